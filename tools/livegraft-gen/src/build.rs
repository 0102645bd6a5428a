//! Building the generated module with the kernel's build system:
//!
//! ```text
//! make -C <kdir> M=<out> ARCH=x86_64 LLVM=1 RUSTC=${RUSTC:-/usr/bin/rustc} BINDGEN=${BINDGEN} \
//!      KBUILD_EXTRA_SYMBOLS="<symvers...>" -j<cpus> modules
//! ```
//!
//! make's output goes to `<out>/make.log` and is shown only when the build
//! fails (or streamed live in verbose mode).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What the build needs.
#[derive(Clone, Debug)]
pub struct BuildConfig {
    /// The built kernel tree.
    pub kdir: PathBuf,
    /// The generated module directory (absolute: `M=` must be).
    pub out: PathBuf,
    /// `Module.symvers` files to link against (absolute).
    pub symvers: Vec<PathBuf>,
    /// `RUSTC=`.
    pub rustc: String,
    /// `BINDGEN=`, if set in the environment.
    pub bindgen: Option<String>,
    /// `-j`.
    pub jobs: usize,
    /// Stream make's output instead of logging it.
    pub verbose: bool,
}

impl BuildConfig {
    /// A configuration taking `RUSTC` (default `/usr/bin/rustc`) and `BINDGEN`
    /// from the environment, and one job per CPU.
    pub fn from_env(kdir: PathBuf, out: PathBuf, symvers: Vec<PathBuf>, verbose: bool) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        BuildConfig {
            kdir,
            out,
            symvers,
            rustc: var("RUSTC").unwrap_or_else(|| "/usr/bin/rustc".to_string()),
            bindgen: var("BINDGEN"),
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            verbose,
        }
    }

    /// The arguments of `make`.
    pub fn make_args(&self) -> Vec<String> {
        let mut a = vec![
            "-C".to_string(),
            self.kdir.display().to_string(),
            format!("M={}", self.out.display()),
            "ARCH=x86_64".to_string(),
            "LLVM=1".to_string(),
            format!("RUSTC={}", self.rustc),
        ];
        if let Some(b) = &self.bindgen {
            a.push(format!("BINDGEN={b}"));
        }
        if !self.symvers.is_empty() {
            let s: Vec<String> = self
                .symvers
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            a.push(format!("KBUILD_EXTRA_SYMBOLS={}", s.join(" ")));
        }
        a.push(format!("-j{}", self.jobs));
        a.push("modules".to_string());
        a
    }

    /// The command line, quoted for a shell, for messages.
    pub fn command_line(&self) -> String {
        let quote = |s: &str| {
            if s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=./,:+@%".contains(c))
            {
                s.to_string()
            } else {
                match s.split_once('=') {
                    Some((k, v)) if !k.contains(' ') => format!("{k}=\"{v}\""),
                    _ => format!("'{s}'"),
                }
            }
        };
        std::iter::once("make".to_string())
            .chain(self.make_args().iter().map(|a| quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Why a build failed.
#[derive(Debug)]
pub struct BuildError {
    /// What went wrong.
    pub message: String,
    /// make's output, when it was captured.
    pub log: Option<String>,
}

/// Runs make; returns the path of the built `<name>.ko`.
pub fn run(cfg: &BuildConfig, name: &str) -> Result<PathBuf, BuildError> {
    let log_path = cfg.out.join("make.log");
    let mut cmd = Command::new("make");
    cmd.args(cfg.make_args()).stdin(Stdio::null());
    let mut captured = false;
    if !cfg.verbose {
        let log = fs::File::create(&log_path).map_err(|e| BuildError {
            message: format!("cannot create {}: {e}", log_path.display()),
            log: None,
        })?;
        let log2 = log.try_clone().map_err(|e| BuildError {
            message: format!("cannot use {}: {e}", log_path.display()),
            log: None,
        })?;
        cmd.stdout(log).stderr(log2);
        captured = true;
    } else {
        // make's output goes to our stderr: stdout is for the result path.
        use std::os::fd::AsFd;
        let err = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| BuildError {
                message: format!("cannot duplicate stderr: {e}"),
                log: None,
            })?;
        cmd.stdout(Stdio::from(err));
    }
    let status = cmd.status().map_err(|e| BuildError {
        message: format!("cannot run make: {e}"),
        log: None,
    })?;
    let log = captured.then(|| fs::read_to_string(&log_path).unwrap_or_default());
    if !status.success() {
        return Err(BuildError {
            message: format!("make failed ({status})"),
            log,
        });
    }
    let ko = cfg.out.join(format!("{name}.ko"));
    if !ko.is_file() {
        return Err(BuildError {
            message: format!("make succeeded but {} is missing", ko.display()),
            log,
        });
    }
    Ok(ko)
}

/// The `Module.symvers` to use when none is given: livegraft's own, at the
/// root of the repository, if it has been built.
pub fn default_symvers(repo: Option<&Path>) -> Option<PathBuf> {
    repo.map(|r| r.join("Module.symvers"))
        .filter(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_command() {
        let cfg = BuildConfig {
            kdir: "/k".into(),
            out: "/o/p".into(),
            symvers: vec!["/a/Module.symvers".into(), "/b/Module.symvers".into()],
            rustc: "/usr/bin/rustc".into(),
            bindgen: Some("/bin/bindgen".into()),
            jobs: 2,
            verbose: false,
        };
        assert_eq!(
            cfg.make_args(),
            vec![
                "-C",
                "/k",
                "M=/o/p",
                "ARCH=x86_64",
                "LLVM=1",
                "RUSTC=/usr/bin/rustc",
                "BINDGEN=/bin/bindgen",
                "KBUILD_EXTRA_SYMBOLS=/a/Module.symvers /b/Module.symvers",
                "-j2",
                "modules"
            ]
        );
        assert_eq!(
            cfg.command_line(),
            "make -C /k M=/o/p ARCH=x86_64 LLVM=1 RUSTC=/usr/bin/rustc BINDGEN=/bin/bindgen \
             KBUILD_EXTRA_SYMBOLS=\"/a/Module.symvers /b/Module.symvers\" -j2 modules"
        );
        let none = BuildConfig {
            bindgen: None,
            symvers: vec![],
            ..cfg
        };
        assert!(!none
            .make_args()
            .iter()
            .any(|a| a.starts_with("BINDGEN=") || a.starts_with("KBUILD_EXTRA")));
    }
}
