//! What the target kernel tells about its functions: the `System.map`
//! (names, types, addresses of vmlinux symbols), the `__mcount_loc` table of
//! `vmlinux` (the ftrace call sites: a function can only be patched if it has
//! one), and the symbol tables of module `.ko` files.

use std::collections::{HashMap, HashSet};

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

/// One symbol of a `System.map`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapSymbol {
    /// Its link-time address.
    pub addr: u64,
    /// Its `nm` type letter (`t`, `T`, `d`, ...).
    pub kind: char,
}

impl MapSymbol {
    /// Whether this is a function: types `t`, `T`, `w`, `W`.
    pub fn is_text(&self) -> bool {
        matches!(self.kind, 't' | 'T' | 'w' | 'W')
    }
}

/// A parsed `System.map`: every symbol by name, in file (address) order.
#[derive(Clone, Debug, Default)]
pub struct SystemMap {
    syms: HashMap<String, Vec<MapSymbol>>,
}

impl SystemMap {
    /// Parses `System.map` text (`<hex address> <type> <name>` lines).
    ///
    /// Fails with the 1-based line number and a description on the first line
    /// that does not have that shape: the wrong file was given.
    pub fn parse(text: &str) -> Result<SystemMap, (usize, String)> {
        let mut syms: HashMap<String, Vec<MapSymbol>> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut f = line.split_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (f.next(), f.next(), f.next()) else {
                return Err((
                    i + 1,
                    format!("`{line}` is not a System.map line (<address> <type> <name>)"),
                ));
            };
            let addr = u64::from_str_radix(addr, 16)
                .map_err(|_| (i + 1, format!("`{addr}` is not a hexadecimal address")))?;
            let mut k = kind.chars();
            let (Some(kind), None) = (k.next(), k.next()) else {
                return Err((i + 1, format!("`{kind}` is not a symbol type letter")));
            };
            syms.entry(name.to_string())
                .or_default()
                .push(MapSymbol { addr, kind });
        }
        if syms.is_empty() {
            return Err((1, "no symbols".to_string()));
        }
        Ok(SystemMap { syms })
    }

    /// Every symbol named `name`.
    pub fn lookup(&self, name: &str) -> &[MapSymbol] {
        self.syms.get(name).map_or(&[], Vec::as_slice)
    }

    /// Every symbol named `name`, by increasing address: the kernel's kallsyms
    /// order for one name in vmlinux (with `CONFIG_KALLSYMS_ALL`, which
    /// livegraft requires, kallsyms lists the symbols `System.map` does), in
    /// which `sympos` counts.
    pub fn kallsyms(&self, name: &str) -> Vec<MapSymbol> {
        let mut v = self.lookup(name).to_vec();
        v.sort_by_key(|s| s.addr);
        v
    }

    /// The function symbols named `name`, by increasing address.
    pub fn functions(&self, name: &str) -> Vec<MapSymbol> {
        let mut v: Vec<MapSymbol> = self
            .lookup(name)
            .iter()
            .copied()
            .filter(MapSymbol::is_text)
            .collect();
        v.sort_by_key(|s| s.addr);
        v
    }

    /// Function names that look like what `name` was meant to be: compiler
    /// clones of it (`name.isra.0`, `name.constprop.0`) and near misspellings.
    pub fn similar(&self, name: &str) -> Vec<String> {
        let mut clones: Vec<String> = self
            .syms
            .iter()
            .filter(|(n, s)| {
                n.starts_with(name)
                    && n[name.len()..].starts_with('.')
                    && s.iter().any(MapSymbol::is_text)
            })
            .map(|(n, _)| n.clone())
            .collect();
        clones.sort();
        if !clones.is_empty() {
            return clones;
        }
        let text_names = self
            .syms
            .iter()
            .filter(|(_, s)| s.iter().any(MapSymbol::is_text))
            .map(|(n, _)| n.as_str());
        crate::diag::did_you_mean(name, text_names)
            .map(str::to_string)
            .into_iter()
            .collect()
    }
}

/// Reads the ftrace call-site table of a `vmlinux` ELF image.
///
/// Uses the `__mcount_loc` section when there is one (object files, some
/// linkers); a linked `vmlinux` usually folds it into `.init.data` between
/// the `__start_mcount_loc` and `__stop_mcount_loc` symbols, which are used
/// then. The entries are absolute addresses. Returns `Ok(None)` when the
/// image has neither (a kernel without `CONFIG_DYNAMIC_FTRACE`).
pub fn mcount_locations(elf: &[u8]) -> Result<Option<HashSet<u64>>, String> {
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF file: {e}"))?;
    let data: &[u8] = if let Some(sec) = file.section_by_name("__mcount_loc") {
        sec.data()
            .map_err(|e| format!("cannot read __mcount_loc: {e}"))?
    } else {
        let mut start = None;
        let mut stop = None;
        for sym in file.symbols() {
            match sym.name() {
                Ok("__start_mcount_loc") => start = Some((sym.address(), sym.section_index())),
                Ok("__stop_mcount_loc") => stop = Some(sym.address()),
                _ => {}
            }
        }
        let (Some((start, section)), Some(stop)) = (start, stop) else {
            return Ok(None);
        };
        if stop < start {
            return Err("__stop_mcount_loc is below __start_mcount_loc".to_string());
        }
        if stop == start {
            return Ok(Some(HashSet::new()));
        }
        let holds =
            |s: &object::Section<'_, '_>| s.address() <= start && stop <= s.address() + s.size();
        // The section of the start symbol, else the one whose addresses cover the table.
        let sec = section
            .and_then(|i| file.section_by_index(i).ok())
            .filter(|s| holds(s))
            .or_else(|| file.sections().find(|s| holds(s)))
            .ok_or("no section holds __start_mcount_loc..__stop_mcount_loc")?;
        sec.data_range(start, stop - start)
            .map_err(|e| format!("cannot read the mcount table: {e}"))?
            .ok_or("the mcount table is outside its section's data")?
    };
    let width = if file.is_64() { 8 } else { 4 };
    let little = file.is_little_endian();
    Ok(Some(
        data.chunks_exact(width)
            .map(|c| {
                let mut b = [0u8; 8];
                if little {
                    b[..width].copy_from_slice(c);
                    u64::from_le_bytes(b)
                } else {
                    b[8 - width..].copy_from_slice(c);
                    u64::from_be_bytes(b)
                }
            })
            .filter(|&a| a != 0)
            .collect(),
    ))
}

/// Whether `addr` (a function's symbol address) has an ftrace call site:
/// at its first instruction, or right after a 4-byte `ENDBR64`.
pub fn is_traceable(mcount: &HashSet<u64>, addr: u64) -> bool {
    mcount.contains(&addr) || mcount.contains(&(addr + 4))
}

/// The functions a module `.ko` defines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleSymbols {
    /// The module's name, from its `.modinfo` (`name=`), if recorded there.
    pub name: Option<String>,
    /// How many defined `FUNC` symbols of each name it has.
    pub functions: HashMap<String, usize>,
    /// Per name, the symbols the module's kallsyms will list once it is
    /// loaded, in symbol-table order (the order `sympos` counts in): whether
    /// each is a function.
    pub kallsyms: HashMap<String, Vec<bool>>,
    /// The functions with an ftrace call site (`__mcount_loc`), or `None`
    /// when the module has no such table.
    pub traced: Option<std::collections::HashSet<String>>,
}

/// Reads the defined function symbols and the `.modinfo` name of a `.ko`.
pub fn module_symbols(elf: &[u8]) -> Result<ModuleSymbols, String> {
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF file: {e}"))?;
    let mut functions: HashMap<String, usize> = HashMap::new();
    let mut kallsyms: HashMap<String, Vec<bool>> = HashMap::new();
    for sym in file.symbols() {
        if sym.kind() == SymbolKind::Text && sym.is_definition() {
            if let Ok(name) = sym.name() {
                *functions.entry(name.to_string()).or_default() += 1;
            }
        }
        if let (Ok(name), true) = (sym.name(), is_core_symbol(&file, &sym)) {
            kallsyms
                .entry(name.to_string())
                .or_default()
                .push(sym.kind() == SymbolKind::Text);
        }
    }
    let name = file
        .section_by_name(".modinfo")
        .and_then(|s| s.data().ok())
        .and_then(|d| {
            d.split(|&b| b == 0)
                .find_map(|kv| kv.strip_prefix(b"name="))
                .map(|n| String::from_utf8_lossy(n).into_owned())
        });
    Ok(ModuleSymbols {
        name,
        functions,
        kallsyms,
        traced: crate::checks::module_traced_functions(elf)?,
    })
}

/// Whether the module loader keeps `sym` in the module's kallsyms
/// (`is_core_symbol()` in kernel/module/kallsyms.c, with
/// `CONFIG_KALLSYMS_ALL`): a named symbol defined in a section that is
/// allocated and not an init section (those are freed after init).
fn is_core_symbol(file: &object::File<'_>, sym: &object::Symbol<'_, '_>) -> bool {
    let named = sym.name().is_ok_and(|n| !n.is_empty());
    let Some(sec) = sym
        .section_index()
        .and_then(|i| file.section_by_index(i).ok())
    else {
        return false;
    };
    let alloc = match sec.flags() {
        object::SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_ALLOC) != 0,
        _ => false,
    };
    let init = sec.name().is_ok_and(|n| n.starts_with(".init"));
    named
        && sym.is_definition()
        && alloc
        && !init
        && sym.kind() != SymbolKind::Section
        && sym.kind() != SymbolKind::File
}

/// The module name a `.ko` file stands for: its `.modinfo` name, else its
/// file name without `.ko`, with `-` turned into `_` as the kernel does.
pub fn module_name(syms: &ModuleSymbols, path: &std::path::Path) -> String {
    syms.name.clone().unwrap_or_else(|| {
        let stem = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        stem.strip_suffix(".ko").unwrap_or(&stem).replace('-', "_")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "\
ffffffff81000000 T _text
ffffffff81224330 t cmdline_proc_show
ffffffff81224400 t dup_show
ffffffff81300000 t dup_show
ffffffff81400000 D some_data
ffffffff81500000 t clone_me.isra.0
";

    #[test]
    fn system_map() {
        let m = SystemMap::parse(MAP).unwrap();
        assert_eq!(
            m.functions("cmdline_proc_show"),
            vec![MapSymbol {
                addr: 0xffffffff81224330,
                kind: 't'
            }]
        );
        assert_eq!(m.functions("dup_show").len(), 2);
        assert!(m.functions("some_data").is_empty());
        assert_eq!(m.lookup("some_data").len(), 1);
        assert_eq!(m.similar("clone_me"), vec!["clone_me.isra.0".to_string()]);
        assert_eq!(
            m.similar("cmdline_proc_shw"),
            vec!["cmdline_proc_show".to_string()]
        );
        assert!(m.similar("nothing_like_it").is_empty());
    }

    #[test]
    fn system_map_rejects_other_files() {
        let e = SystemMap::parse(
            "0x1234\tlivegraft_enable_patch\t/work/livegraft\tEXPORT_SYMBOL_GPL\t\n",
        )
        .unwrap_err();
        assert_eq!(e.0, 1);
        assert!(SystemMap::parse("").is_err());
        assert!(SystemMap::parse("zz T x\n").is_err());
    }

    #[test]
    fn traceable_with_or_without_endbr() {
        let set: HashSet<u64> = [0x1000, 0x2004].into_iter().collect();
        assert!(is_traceable(&set, 0x1000));
        assert!(is_traceable(&set, 0x2000));
        assert!(!is_traceable(&set, 0x3000));
    }
}
