//! What a `.ko` file says about itself: its `.modinfo` section, read from the
//! file alone (no kernel involved), and the checks `livegraft load` makes
//! before the kernel sees the module.

use object::{Object as _, ObjectSection as _};
use serde::Serialize;

/// One function a patch module declares (`livegraft_func=OBJECT:FUNC,SYMPOS`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FuncTag {
    pub object: String,
    pub function: String,
    pub sympos: u64,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ModInfo {
    /// `name=`: the module name the kernel will use.
    pub name: Option<String>,
    /// `vermagic=` as written.
    pub vermagic: Option<String>,
    /// The kernel release it was built for (vermagic's first word).
    pub release: Option<String>,
    /// `livegraft_abi=`: the patch ABI it was built for.
    pub livegraft_abi: Option<u32>,
    /// `livegraft=Y` (upstream's `livepatch=Y` counterpart).
    pub livegraft_flag: bool,
    /// `livegraft_patch=`: the patch's sysfs name, if recorded.
    pub patch_name: Option<String>,
    pub functions: Vec<FuncTag>,
    /// `depends=`: modules that must be loaded first.
    pub depends: Vec<String>,
    pub description: Option<String>,
    pub license: Option<String>,
    pub version: Option<String>,
}

/// Why a module must not be loaded here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Mismatch {
    /// Built for another kernel release.
    Kernel { module: String, running: String },
    /// Built for another patch ABI than the core's.
    Abi { module: u32, core: u32 },
    /// No `livegraft_abi` tag: built before the tag existed, or not a livegraft patch.
    NoAbi,
    /// No vermagic: not a kernel module.
    NotAModule,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Kernel { module, running } => write!(
                f,
                "built for kernel {module}, but the running kernel is {running}: rebuild it against the running kernel's tree (KDIR=/lib/modules/{running}/build)"
            ),
            Mismatch::Abi { module, core } => write!(
                f,
                "built for livegraft patch ABI {module}, but the livegraft core implements ABI {core}: rebuild the patch with that core's include/livegraft.h (or livegraft-gen), or load the core that matches it"
            ),
            Mismatch::NoAbi => write!(
                f,
                "the module has no livegraft_abi modinfo tag: it is not a livegraft patch module, or it was built with a livegraft.h older than the tag; rebuild it"
            ),
            Mismatch::NotAModule => write!(f, "not a kernel module (no vermagic in .modinfo)"),
        }
    }
}

impl ModInfo {
    /// Parses the NUL-separated `key=value` strings of a `.modinfo` section.
    pub fn from_section(data: &[u8]) -> ModInfo {
        let mut m = ModInfo::default();
        for kv in data.split(|&b| b == 0) {
            let kv = String::from_utf8_lossy(kv);
            let Some((k, v)) = kv.split_once('=') else { continue };
            let v = v.to_string();
            match k {
                "name" => m.name = Some(v),
                "vermagic" => {
                    m.release = v.split_whitespace().next().map(str::to_string);
                    m.vermagic = Some(v.trim_end().to_string());
                }
                "livegraft_abi" => m.livegraft_abi = v.trim().parse().ok(),
                "livegraft" => m.livegraft_flag = v == "Y",
                "livegraft_patch" => m.patch_name = Some(v),
                "livegraft_func" => {
                    if let Some((obj, rest)) = v.split_once(':') {
                        let (func, pos) = rest.rsplit_once(',').unwrap_or((rest, "0"));
                        m.functions.push(FuncTag {
                            object: obj.to_string(),
                            function: func.to_string(),
                            sympos: pos.parse().unwrap_or(0),
                        });
                    }
                }
                "depends" => m.depends = v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                "description" => m.description = Some(v),
                "license" => m.license = Some(v),
                "version" => m.version = Some(v),
                _ => {}
            }
        }
        m
    }

    /// Reads the `.modinfo` of an ELF relocatable (`.ko`).
    pub fn from_elf(elf: &[u8]) -> Result<ModInfo, String> {
        let file = object::File::parse(elf).map_err(|e| format!("not an ELF file ({e})"))?;
        let sec = file
            .section_by_name(".modinfo")
            .ok_or_else(|| "no .modinfo section: not a kernel module".to_string())?;
        let data = sec.data().map_err(|e| format!("unreadable .modinfo section ({e})"))?;
        Ok(ModInfo::from_section(data))
    }

    pub fn from_file(path: &std::path::Path) -> Result<ModInfo, String> {
        let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        ModInfo::from_elf(&data)
    }

    /// The core module itself (as opposed to a patch).
    pub fn is_core(&self) -> bool {
        self.name.as_deref() == Some("livegraft")
    }

    /// The name the patch will have in sysfs: the recorded one, else the
    /// module name (the convention of every livegraft patch generator).
    pub fn expected_patch_name(&self) -> Option<&str> {
        self.patch_name.as_deref().or(self.name.as_deref())
    }

    /// Every reason this module must not be loaded into a kernel `running`
    /// with a core of ABI `core_abi` (None: the core's ABI is unknown, so it
    /// is not compared).
    pub fn check(&self, running: &str, core_abi: Option<u32>) -> Vec<Mismatch> {
        let mut v = Vec::new();
        match &self.release {
            None => v.push(Mismatch::NotAModule),
            Some(r) if r != running => v.push(Mismatch::Kernel { module: r.clone(), running: running.to_string() }),
            _ => {}
        }
        match (self.livegraft_abi, core_abi) {
            (None, _) => v.push(Mismatch::NoAbi),
            (Some(m), Some(c)) if m != c => v.push(Mismatch::Abi { module: m, core: c }),
            _ => {}
        }
        v
    }
}
