//! Test helpers: patch directories, a fixture System.map, ELF fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use livegraft_gen::diag::Diagnostic;
use livegraft_gen::manifest::{self, MANIFEST_FILE};
use livegraft_gen::symbols::{ModuleSymbols, SystemMap};
use livegraft_gen::validate::{self, Inputs, Mcount, Plan};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A replacement source defining `pub extern "C" fn` for each name.
pub fn source_with(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("#[no_mangle]\npub extern \"C\" fn {n}() {{}}\n"))
        .collect()
}

/// A temporary patch directory with this manifest and `replacements.rs`.
pub fn patch_dir(manifest: &str, source: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(MANIFEST_FILE), manifest).unwrap();
    std::fs::write(d.path().join("replacements.rs"), source).unwrap();
    d
}

/// A System.map with a unique function, 3 statics of one name, a data
/// symbol and a compiler clone.
pub const SYSTEM_MAP: &str = "\
ffffffff81000000 T _text
ffffffff81224330 t cmdline_proc_show
ffffffff81224380 t mixed_name
ffffffff81224400 t type_show
ffffffff81300000 t type_show
ffffffff81310000 t type_show
ffffffff81320000 T untraced_fn
ffffffff81400000 D some_data
ffffffff81400008 d mixed_name
ffffffff81500000 t clone_me.isra.0
ffffffff81600000 W weak_fn
";

/// Everything that validation can be given.
pub struct Env {
    pub map: Option<SystemMap>,
    pub mcount: Mcount,
    pub modules: Vec<(String, String, ModuleSymbols)>,
    pub exports: Option<std::collections::HashSet<String>>,
    pub kdir: Option<PathBuf>,
    pub filter_functions: Option<std::collections::HashSet<String>>,
    pub allow_unchecked_trace: bool,
}

impl Default for Env {
    fn default() -> Self {
        Env {
            map: None,
            mcount: Mcount::NoKdir,
            modules: Vec::new(),
            exports: None,
            kdir: None,
            filter_functions: None,
            allow_unchecked_trace: true,
        }
    }
}

impl Env {
    pub fn with_map() -> Self {
        Env {
            map: Some(SystemMap::parse(SYSTEM_MAP).unwrap()),
            ..Env::default()
        }
    }
}

/// Parses and validates the patch in `dir`, as the CLI does.
pub fn check_in(dir: &Path, env: &Env) -> (Option<Plan>, Vec<Diagnostic>) {
    let path = dir.join(MANIFEST_FILE);
    let file = path.display().to_string();
    let text = std::fs::read_to_string(&path).unwrap();
    let (m, mut diags) = manifest::parse(&file, &text);
    let inputs = Inputs {
        patch_dir: dir,
        system_map: env.map.as_ref().map(|m| ("System.map", m)),
        mcount: &env.mcount,
        modules: &env.modules,
        exports: env.exports.as_ref(),
        kdir: env.kdir.as_deref(),
        filter_functions: env.filter_functions.as_ref(),
        allow_unchecked_trace: env.allow_unchecked_trace,
    };
    let (plan, more) = validate::validate(&m, &inputs);
    diags.extend(more);
    (plan, diags)
}

/// [`check_in`] on a fresh patch directory.
pub fn check(manifest: &str, source: &str, env: &Env) -> (Option<Plan>, Vec<Diagnostic>) {
    let d = patch_dir(manifest, source);
    check_in(d.path(), env)
}

/// The errors only.
pub fn errors(diags: &[Diagnostic]) -> Vec<&Diagnostic> {
    diags.iter().filter(|d| d.is_error()).collect()
}

/// Asserts exactly one error, whose message contains `needle`; returns it.
pub fn one_error<'a>(diags: &'a [Diagnostic], needle: &str) -> &'a Diagnostic {
    let e = errors(diags);
    assert_eq!(e.len(), 1, "expected one error, got: {e:#?}");
    assert!(
        e[0].message.contains(needle),
        "`{}` does not contain `{needle}`",
        e[0].message
    );
    assert_well_formed(e[0]);
    e[0]
}

/// Every error names its file and entry and has a help line.
pub fn assert_well_formed(d: &Diagnostic) {
    assert!(!d.file.is_empty(), "{d:?}");
    assert!(!d.entry.is_empty(), "{d:?}");
    assert!(!d.message.is_empty(), "{d:?}");
    if d.is_error() {
        assert!(
            d.help.as_deref().is_some_and(|h| !h.trim().is_empty()),
            "no help: {d:?}"
        );
        let s = d.to_string();
        assert!(s.starts_with(&format!("error: {}", d.file)), "{s}");
        assert!(s.contains(&format!(": {}: ", d.entry)), "{s}");
        assert!(s.contains("\n  help: "), "{s}");
    }
}

/// A one-function manifest around `function` (the `[[function]]` body).
pub fn manifest_with(function: &str) -> String {
    format!("[patch]\nname = \"p\"\ndescription = \"d\"\n\n[[function]]\n{function}\n")
}

pub mod elf {
    //! ELF fixtures written with `object`'s write API.
    use object::write::{Object, StandardSection, Symbol, SymbolSection};
    use object::{
        Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
    };

    fn new() -> Object<'static> {
        Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little)
    }

    fn func(obj: &mut Object<'_>, name: &str, value: u64, scope: SymbolScope) {
        let text = obj.section_id(StandardSection::Text);
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value,
            size: 8,
            kind: SymbolKind::Text,
            scope,
            weak: false,
            section: SymbolSection::Section(text),
            flags: SymbolFlags::None,
        });
    }

    fn table(addrs: &[u64]) -> Vec<u8> {
        addrs.iter().flat_map(|a| a.to_le_bytes()).collect()
    }

    /// A "vmlinux" with a `__mcount_loc` section listing `addrs`.
    pub fn vmlinux_with_section(addrs: &[u64]) -> Vec<u8> {
        let mut obj = new();
        let text = obj.section_id(StandardSection::Text);
        obj.append_section_data(text, &[0xc3; 64], 16);
        func(&mut obj, "f", 0, SymbolScope::Linkage);
        let mc = obj.add_section(vec![], b"__mcount_loc".to_vec(), SectionKind::ReadOnlyData);
        obj.append_section_data(mc, &table(addrs), 8);
        obj.write().unwrap()
    }

    /// A linked-vmlinux look-alike: the table inside `.init.data`, between
    /// `__start_mcount_loc` and `__stop_mcount_loc`, with data around it.
    pub fn vmlinux_with_symbols(addrs: &[u64]) -> Vec<u8> {
        let mut obj = new();
        let text = obj.section_id(StandardSection::Text);
        obj.append_section_data(text, &[0xc3; 4096], 16);
        let init = obj.add_section(vec![], b".init.data".to_vec(), SectionKind::Data);
        let mut data = vec![0xaa; 16];
        data.extend(table(addrs));
        data.extend([0xbb; 16]);
        obj.append_section_data(init, &data, 8);
        for (name, value) in [
            ("__start_mcount_loc", 16),
            ("__stop_mcount_loc", 16 + 8 * addrs.len() as u64),
        ] {
            obj.add_symbol(Symbol {
                name: name.as_bytes().to_vec(),
                value,
                size: 0,
                kind: SymbolKind::Data,
                scope: SymbolScope::Linkage,
                weak: false,
                section: SymbolSection::Section(init),
                flags: SymbolFlags::None,
            });
        }
        obj.write().unwrap()
    }

    /// An ELF with no ftrace table at all.
    pub fn vmlinux_without_table() -> Vec<u8> {
        let mut obj = new();
        let text = obj.section_id(StandardSection::Text);
        obj.append_section_data(text, &[0xc3; 16], 16);
        func(&mut obj, "f", 0, SymbolScope::Linkage);
        obj.write().unwrap()
    }

    /// A module `.ko`: functions `mod_fn`, two local `dup_fn`, data
    /// `mod_data`, an undefined `printk`, and `.modinfo` `name=<name>`.
    pub fn module_ko(name: Option<&str>) -> Vec<u8> {
        module_ko_traced(name, None)
    }

    /// [`module_ko`] with an `__mcount_loc` whose entries point (through
    /// relocations against `.text`, as in a real `.ko`) at these offsets:
    /// `mod_fn` is at 0, the two `dup_fn` at 16 and 32.
    pub fn module_ko_traced(name: Option<&str>, mcount: Option<&[u64]>) -> Vec<u8> {
        let mut obj = new();
        let text = obj.section_id(StandardSection::Text);
        obj.append_section_data(text, &[0xc3; 64], 16);
        func(&mut obj, "mod_fn", 0, SymbolScope::Linkage);
        func(&mut obj, "dup_fn", 16, SymbolScope::Compilation);
        func(&mut obj, "dup_fn", 32, SymbolScope::Compilation);
        let data = obj.section_id(StandardSection::Data);
        obj.append_section_data(data, &[0; 8], 8);
        obj.add_symbol(Symbol {
            name: b"mod_data".to_vec(),
            value: 0,
            size: 8,
            kind: SymbolKind::Data,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Section(data),
            flags: SymbolFlags::None,
        });
        obj.add_symbol(Symbol {
            name: b"printk".to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::Text,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        });
        if let Some(sites) = mcount {
            let mc = obj.add_section(vec![], b"__mcount_loc".to_vec(), SectionKind::Data);
            obj.append_section_data(mc, &vec![0u8; sites.len() * 8], 8);
            let text_sym = obj.section_symbol(text);
            for (i, &off) in sites.iter().enumerate() {
                obj.add_relocation(
                    mc,
                    object::write::Relocation {
                        offset: (i * 8) as u64,
                        symbol: text_sym,
                        addend: off as i64,
                        flags: object::RelocationFlags::Generic {
                            kind: object::RelocationKind::Absolute,
                            encoding: object::RelocationEncoding::Generic,
                            size: 64,
                        },
                    },
                )
                .unwrap();
            }
        }
        if let Some(name) = name {
            let mi = obj.add_section(vec![], b".modinfo".to_vec(), SectionKind::ReadOnlyData);
            obj.append_section_data(
                mi,
                format!("license=GPL\0name={name}\0depends=\0").as_bytes(),
                1,
            );
        }
        obj.write().unwrap()
    }
}
