//! The `livegraft-gen` command line: parse, validate, generate, build.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgAction, Parser};

use livegraft_gen::build::{self, BuildConfig};
use livegraft_gen::diag::Diagnostic;
use livegraft_gen::manifest::{self, MANIFEST_FILE};
use livegraft_gen::progress::Progress;
use livegraft_gen::symbols::{self, ModuleSymbols, SystemMap};
use livegraft_gen::validate::{self, Inputs, Mcount};
use livegraft_gen::{find_repo, generate, manifest_header_path};

/// Exit status: invalid patch, or generation failed.
const EXIT_INVALID: u8 = 1;
/// Exit status: bad command line.
const EXIT_USAGE: u8 = 2;
/// Exit status: the build failed.
const EXIT_BUILD: u8 = 3;

const LONG_HELP: &str = r#"MANIFEST (<PATCH_DIR>/patch.toml):
  [patch]
  name = "livegraft_cmdline"         # required: the module's name and /sys/kernel/livegraft/<name>
                                     #   (letters, digits and _, at most 55 characters)
  description = "cat /proc/cmdline prints a patched message"
                                     # required: one line, without " or \
  source = "replacements.rs"         # optional (this is the default), relative to PATCH_DIR;
                                     #   a .c file makes a C patch (see C SOURCES)

  [[function]]                       # one table per replaced function
  target = "cmdline_proc_show"       # the kernel function to replace
  object = "vmlinux"                 # optional: "vmlinux" (default), or the module defining it
  sympos = 0                         # optional: 0 = the name must be unique in its object (default),
                                     #   N = the Nth symbol of that name in kallsyms order
  replacement = "livegraft_cmdline_proc_show"
                                     # a top-level `pub extern "C" fn` of the source, with the
                                     #   target's C prototype
  original = "orig_cmdline_proc_show"
                                     # optional: the function through which the replacement
                                     #   calls the original; declare it in an `extern "C"`
                                     #   block of the source, `pub(crate)`, with the same
                                     #   prototype (checked); livegraft-gen defines it. A call
                                     #   of the target by its own name runs the patched
                                     #   function again, as under upstream livepatch.

  [[symbol]]                         # optional, one per non-exported kernel symbol the source uses
  name = "lg_target_scale"           # a function or variable (static ones included)
  object = "lg_target"               # optional: "vmlinux" (default) or a module name
  sympos = 0                         # optional: as for functions
  type = "int (int)"                 # C source: its C type; used as LIVEGRAFT_SYM(lg_target_scale)
                                     # Rust source: "fn(c_int) -> c_int" (core::ffi types) or a
                                     #   variable's type ("c_int": an atomic); used through the typed
                                     #   accessor crate::symbols::lg_target_scale()
                                     # livegraft resolves them all (kallsyms) before the patch is
                                     #   enabled; one that does not resolve fails the load, with
                                     #   nothing registered (checked now against System.map/--module-ko)

  [patch] may also have
  replace = true                     # optional: a cumulative patch (atomic replace): enabling it
                                     #   replaces every patch enabled before it in one transition;
                                     #   functions only they patched go back to the original

  [[callbacks]]                      # optional, one per object whose callbacks the patch has
  object = "lg_target"               # optional: "vmlinux" (default) or a module name (an object
                                     #   without [[function]]s is allowed: callbacks only)
  pre_patch = "my_pre_patch"         # optional: before the object is patched; an error aborts
                                     #   the enable. Rust: `pub fn f(obj: &Object) -> Result`
  post_patch = "my_post_patch"       # optional: once the patching transition completed
  pre_unpatch = "my_pre_unpatch"     # optional: before the unpatching transition starts
  post_unpatch = "my_post_unpatch"   # optional: once it completed (only if pre_patch succeeded)
                                     # Rust: safe functions `pub fn f(obj: &Object)` (not extern,
                                     #   `use crate::livegraft::Object;`); the generated module
                                     #   adapts them to the C ABI. C: `int f(struct
                                     #   livegraft_object *)` for pre_patch, `void f(...)` for
                                     #   the others. Upstream's semantics and order
                                     #   (Documentation/livepatch/callbacks.rst); a replaced
                                     #   patch's unpatch callbacks do not run.

  [[state]]                          # optional, one per system state the patch handles
  id = 7                             # non-zero; each id once
  version = 1                        # optional (default 0); a cumulative patch must keep every
                                     #   state of the patches it replaces at a version >= theirs
                                     # Rust: crate::livegraft::state(7) / prev_state(7) (from
                                     #   callbacks) give its and the replaced patch's version

  Unknown keys are errors. Every problem in the patch is reported at once.

C SOURCES (source = "fix.c"):
  The replacements are C functions of fix.c (they may be static), with the targets' prototypes.
  The generated module includes it after livegraft.h, livegraft_symbols.h and the [[symbol]]
  declarations, and compiles it with the kernel's flags and headers (Kbuild); headers beside
  fix.c are found; compiler messages name fix.c and its own lines. An `original` is declared by
  fix.c (e.g. `extern typeof(target) orig_target;`) and defined by livegraft-gen. See
  samples/target_static_c.

REPLACEMENT SOURCE (<PATCH_DIR>/replacements.rs):
  use core::ffi::{c_int, c_void};
  extern "C" {
      fn seq_write(m: *mut c_void, data: *const c_void, len: usize) -> c_int;
  }
  #[no_mangle]
  pub extern "C" fn livegraft_cmdline_proc_show(m: *mut c_void, _v: *mut c_void) -> c_int {
      const MSG: &[u8] = b"patched\n";
      unsafe { seq_write(m, MSG.as_ptr().cast(), MSG.len()) };
      0
  }
  It becomes the module `replacements` of the patch crate (it may use the `kernel` crate);
  kernel functions it calls must be exported to modules. See samples/cmdline.
  The crate's module `livegraft` (crate::livegraft, include/livegraft_support.rs) has safe
  helpers: `Object` (what callbacks get: name(), is_module(), patched()), `state(id)` and
  `prev_state(id)`, and shadow variables (upstream's klp_shadow_*) with a Rust type:
      static UNITS: Shadow<Units, 1> = unsafe { Shadow::new() }; // SAFETY: id 1 is a `Units`
      UNITS.get_or_alloc(obj_ptr, Gfp::Atomic, || Units::new()); UNITS.get(obj_ptr);
      unsafe { UNITS.free(obj_ptr) }; unsafe { UNITS.free_all() }; // `Drop` the values
  (declaring and freeing are `unsafe`: an id must name one type in every patch, and nothing
  may use a value that is freed; the # Safety sections of include/livegraft_support.rs)
  The values live in livegraft.ko's table and outlive the patch module: a later (cumulative)
  patch takes them over with the same id and type. See samples/gen_callbacks, gen_replace.

FROM A DIFF:
  livegraft-gen diff FIX.patch --kdir <built tree> [--source <src>] [--name N] [-o DIR]
                     [--symvers FILE...] [--build]
  compiles the .c file the diff touches before and after it (scratch copies, the tree's own
  recorded flags), compares them per function and writes a patch directory: fix.c (the
  patched file cut down with libclang to the changed functions and what they need of it;
  the file's functions and variables that the kernel has become [[symbol]]s) and
  patch.toml; or refuses what it cannot patch, one line each (changed data or struct
  layouts, prototypes, __init code, untraceable, new or removed functions, headers). A file
  of a module (listed by its Kbuild .mod; --source for a module built outside the tree)
  patches that module.

WORKFLOW:
  1. Build livegraft.ko (`make` or tools/build-module.sh): its Module.symvers is what patch
     modules link against. `--kdir` is a built kernel tree of the target kernel.
  2. Write PATCH_DIR, then generate and build the patch module:
       livegraft-gen samples/cmdline --kdir <kernel tree> --symvers Module.symvers --build
     stdout gets the output directory, or the .ko with --build.
  3. On the target: `insmod livegraft.ko; insmod <name>.ko`, then watch
     /sys/kernel/livegraft/<name>/transition (1 while tasks switch) and dmesg.
  4. To revert: `echo 0 > /sys/kernel/livegraft/<name>/enabled`, then `rmmod <name>`.

  Functions of a module (object = "<module>"): that module must be loaded before the patch,
  and the replacement source should use one of its exports (so that it cannot be unloaded
  under the patch): pass its Module.symvers with --symvers and its .ko with --module-ko.

  --module-ko and --symvers take one or more files: give PATCH_DIR before them, end their
  list with `--`, or repeat the option for each file.

CHECKS:
  Always: names, duplicates, that each replacement is a top-level `pub extern "C" fn` of
  the Rust source (a function definition of a C source) and each original a visible
  declaration of a top-level `extern` block; that each callback is a top-level, visible,
  non-extern fn of the Rust source with a callback's signature as far as its text shows (one
  `&...Object` parameter; `Result` for pre_patch, nothing for the others; rustc checks the
  rest in the generated glue), or a function of the C source; one [[callbacks]] per object;
  state ids non-zero and unique, versions 0 to 4294967295. With a System.map (--system-map, or
  <kdir>/System.map): each vmlinux target and [[symbol]] exists, is unambiguous, and targets
  are functions; a static inline (no symbol) gets a hint to the exported functions it calls,
  from the headers of --kdir. Traceability: a vmlinux target must have an ftrace call site
  (__mcount_loc of <kdir>/vmlinux or --vmlinux, or its name in --available-filter-functions);
  a module target likewise (the .ko's own __mcount_loc, via --module-ko); when targets were
  checked but their traceability cannot be, that is an error unless --unchecked-trace.
  With Module.symvers (<kdir>'s and --symvers): each function a Rust source imports in an
  `extern` block is exported or declared as a [[symbol]] (an error names the symbol and the
  fix); for a C source modpost's undefined symbols get the same explanation after --build.
  A C replacement must have its target's prototype where a header fix.c includes declares
  it (a compile error otherwise); a Rust replacement's parameters and return type are compared
  with the target's prototype in the headers of --kdir (count, and pointer or integer size
  where both types are known); a target declared in no header (a static) is not compared. What cannot be checked without kernel files is reported as
  a warning and checked by livegraft at load time.

OUTPUT (<out>/):
  Kbuild, <name>.rs (crate root: descriptors, module!, the callbacks' C-ABI glue, and with
  [[symbol]]s the `symbols` module of accessors), livegraft_abi.rs (the ABI mirror),
  replacements.rs (a copy of the source), livegraft.rs (the safe helpers). A C source instead gives <name>.c (descriptors, symbol declarations, originals,
  init), replacements.c (the source, with a #line directive), livegraft.h and
  livegraft_symbols.h. With originals: the crate root is <name>_main.rs,
  and livegraft_originals.c (their LIVEGRAFT_ORIGINAL stubs) and livegraft.h join it. Written to <out>.tmp-<pid> and renamed into place:
  a failed run leaves nothing behind. An existing <out> is replaced only if livegraft-gen made it.

EXIT STATUS:
  0 success, 1 invalid patch or generation error, 2 usage error, 3 build failed."#;

/// Generates a livegraft patch module from a patch directory.
///
/// A patch directory holds a manifest, patch.toml, and the Rust or C source of
/// the replacement functions. livegraft-gen checks them (reporting every
/// problem at once), writes an out-of-tree kernel module (Rust, or C for a C
/// source) that registers the patch with livegraft.ko, and with --build
/// builds it.
#[derive(Parser, Debug)]
#[command(
    name = "livegraft-gen",
    version,
    after_help = "Run with --help for the manifest format, an example and the workflow.",
    after_long_help = LONG_HELP
)]
struct Cli {
    /// The patch directory (holds patch.toml and the replacement source).
    #[arg(value_name = "PATCH_DIR")]
    patch_dir: PathBuf,

    /// Output directory [default: <repo-or-cwd>/out/patches/<patch name>].
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// System.map of the target kernel, to check vmlinux targets
    /// [default: <kdir>/System.map with --kdir].
    #[arg(long, value_name = "FILE")]
    system_map: Option<PathBuf>,

    /// Built kernel tree of the target kernel: gives System.map and vmlinux
    /// (for the checks) and is needed by --build.
    #[arg(long, value_name = "DIR")]
    kdir: Option<PathBuf>,

    /// .ko files of target modules, to check the targets in them.
    #[arg(long = "module-ko", value_name = "FILE", num_args = 1.., action = ArgAction::Append)]
    module_ko: Vec<PathBuf>,

    /// After generating, build the .ko with the kernel's make (needs --kdir).
    /// Uses $RUSTC (default /usr/bin/rustc) and $BINDGEN.
    #[arg(long)]
    build: bool,

    /// Module.symvers files to link against: livegraft's, and target
    /// modules' (passed as KBUILD_EXTRA_SYMBOLS) [default: the repository's
    /// Module.symvers, if built].
    #[arg(long, value_name = "FILE", num_args = 1.., action = ArgAction::Append)]
    symvers: Vec<PathBuf>,

    /// The target's vmlinux, for the traceability of vmlinux targets (its
    /// __mcount_loc) when --kdir has none [default: <kdir>/vmlinux].
    #[arg(long, value_name = "FILE")]
    vmlinux: Option<PathBuf>,

    /// A copy of the target's /sys/kernel/tracing/available_filter_functions:
    /// the traceable functions, for a kernel without a build tree.
    #[arg(long = "available-filter-functions", value_name = "FILE")]
    available_filter_functions: Option<PathBuf>,

    /// A target whose traceability cannot be checked is only a warning
    /// (livegraft checks it at load time) instead of an error.
    #[arg(long = "unchecked-trace")]
    unchecked_trace: bool,

    /// No progress display and no warnings; only errors and the result path.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,

    /// Show make's output as it runs, and the full make command.
    #[arg(short, long)]
    verbose: bool,
}

/// `livegraft-gen diff`: from a unified diff of a built tree's source to a
/// patch directory (and, with --build, a module).
#[derive(Parser, Debug)]
#[command(name = "livegraft-gen diff")]
struct DiffCli {
    /// The unified diff (`git diff` / `diff -u` of the kernel source, paths a/ b/).
    #[arg(value_name = "FIX.patch")]
    diff: PathBuf,
    /// The built kernel tree whose objects' recorded commands are used.
    #[arg(long, value_name = "DIR")]
    kdir: PathBuf,
    /// The kernel source the diff applies to [default: --kdir].
    #[arg(long, value_name = "DIR")]
    source: Option<PathBuf>,
    /// The patch name [default: livegraft_<diff file stem>].
    #[arg(long)]
    name: Option<String>,
    /// The patch directory to write [default: out/diff/<name>].
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Then generate and build the module (as `livegraft-gen <dir> --kdir ... --build`).
    #[arg(long)]
    build: bool,
    /// Module.symvers files (livegraft's) for --build.
    #[arg(long, value_name = "FILE", num_args = 1.., action = ArgAction::Append)]
    symvers: Vec<PathBuf>,
}

fn run_diff(args: Vec<std::ffi::OsString>) -> Result<(), u8> {
    let d = match DiffCli::try_parse_from(args) {
        Ok(d) => d,
        Err(e) => {
            let _ = e.print();
            return Err(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let start = std::time::Instant::now();
    let stem = d.diff.file_stem().map_or("fix".into(), |s| s.to_string_lossy().into_owned());
    let name = d.name.clone().unwrap_or_else(|| {
        let n: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        format!("livegraft_{n}").chars().take(validate::MAX_NAME_LEN).collect()
    });
    let repo = find_repo(Path::new("."));
    let out = d.out.clone().unwrap_or_else(|| {
        repo.clone().unwrap_or_else(|| PathBuf::from(".")).join("out/diff").join(&name)
    });
    let mut exports = std::collections::HashSet::new();
    for p in std::iter::once(d.kdir.join("Module.symvers")).chain(d.symvers.iter().cloned()) {
        if let Ok(t) = std::fs::read_to_string(&p) {
            exports.extend(livegraft_gen::checks::parse_symvers(&t));
        }
    }
    let source = d.source.clone().unwrap_or_else(|| d.kdir.clone());
    match livegraft_gen::diff::run(&d.diff, &d.kdir, &source, &out, &name, &exports) {
        Err(refused) => {
            for r in &refused {
                eprintln!("refused: {r}");
            }
            eprintln!(
                "livegraft-gen diff: {} item(s) refused; no patch written ({:.1}s)",
                refused.len(),
                start.elapsed().as_secs_f64()
            );
            Err(EXIT_INVALID)
        }
        Ok(r) => {
            eprintln!("livegraft-gen diff: {} ({:.1}s)", r.patch_dir.display(), start.elapsed().as_secs_f64());
            let object = r.module.as_ref().map_or("vmlinux", |m| m.name.as_str());
            for (f, func) in &r.changed {
                eprintln!("  changed: {func} ({f}, object {object})");
            }
            for s in &r.symbols {
                eprintln!("  resolved at load: {s}");
            }
            eprintln!("  refused: nothing");
            if !d.build {
                println!("{}", r.patch_dir.display());
                return Ok(());
            }
            let cli = Cli {
                patch_dir: r.patch_dir.clone(),
                out: None,
                system_map: None,
                kdir: Some(d.kdir.clone()),
                module_ko: r.module.iter().map(|m| m.ko.clone()).collect(),
                build: true,
                symvers: d.symvers.iter().cloned().chain(r.module.iter().map(|m| m.symvers.clone())).collect(),
                vmlinux: None,
                available_filter_functions: None,
                unchecked_trace: false,
                quiet: true,
                verbose: false,
            };
            let res = run(&cli);
            eprintln!("livegraft-gen diff: total {:.1}s", start.elapsed().as_secs_f64());
            res
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "diff") {
        let mut rest = vec![std::ffi::OsString::from("livegraft-gen diff")];
        rest.extend(args.into_iter().skip(2));
        return match run_diff(rest) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => ExitCode::from(code),
        };
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

/// Prints diagnostics (warnings only when not quiet).
fn report(diags: &[Diagnostic], quiet: bool) {
    for d in diags {
        if d.is_error() || !quiet {
            eprintln!("{d}");
        }
    }
}

/// A command-line problem: reported, exit status 2.
fn usage(file: &Path, option: &str, what: &str, help: &str) -> u8 {
    eprintln!(
        "{}",
        Diagnostic::error(file.display().to_string(), option, what, help)
    );
    EXIT_USAGE
}

/// Checks the paths of the command line before doing anything.
fn check_cli(cli: &Cli) -> Result<(), u8> {
    if !cli.patch_dir.is_dir() {
        return Err(usage(
            &cli.patch_dir,
            "PATCH_DIR",
            "not a directory",
            "give the directory that holds patch.toml (e.g. samples/cmdline)",
        ));
    }
    if let Some(k) = &cli.kdir {
        if !k.join("Makefile").is_file() {
            return Err(usage(
                k,
                "--kdir",
                "not a kernel tree (no Makefile)",
                "give the directory of a built kernel",
            ));
        }
    }
    if cli.build && cli.kdir.is_none() {
        return Err(usage(
            &cli.patch_dir,
            "--build",
            "--build needs --kdir",
            "add --kdir <built kernel tree>, or drop --build and build with make -C <kdir> M=<out> later",
        ));
    }
    let files = cli.system_map.iter().map(|f| (f, "--system-map"));
    let files = files
        .chain(cli.vmlinux.iter().map(|f| (f, "--vmlinux")))
        .chain(cli.available_filter_functions.iter().map(|f| (f, "--available-filter-functions")));
    let files = files.chain(cli.module_ko.iter().map(|f| (f, "--module-ko")));
    for (f, opt) in files.chain(cli.symvers.iter().map(|f| (f, "--symvers"))) {
        if !f.is_file() {
            return Err(usage(f, opt, "no such file", "check the path"));
        }
    }
    Ok(())
}

fn run(cli: &Cli) -> Result<(), u8> {
    check_cli(cli)?;
    let mut progress = Progress::new(if cli.build { 4 } else { 3 }, cli.quiet);
    let repo = find_repo(&cli.patch_dir)
        .or_else(|| std::env::current_dir().ok().and_then(|d| find_repo(&d)));

    // 1. parsing
    let manifest_path = cli.patch_dir.join(MANIFEST_FILE);
    let file = manifest_path.display().to_string();
    progress.stage("parsing", &file);
    let text = match std::fs::read_to_string(&manifest_path) {
        Ok(t) => t,
        Err(e) => {
            report(
                &[Diagnostic::error(
                    &file,
                    "patch.toml",
                    format!("cannot read the manifest: {e}"),
                    format!(
                        "a patch directory needs a patch.toml; for example:\n{}",
                        manifest::EXAMPLE
                    ),
                )],
                cli.quiet,
            );
            return Err(EXIT_INVALID);
        }
    };
    let (manifest, mut diags) = manifest::parse(&file, &text);

    // 2. validating
    let n = manifest.function_count;
    progress.stage(
        "validating",
        &format!("{n} function{}", if n == 1 { "" } else { "s" }),
    );
    let kernel = load_kernel_data(cli, &mut diags);
    let map = kernel.map.as_ref().map(|(name, m)| (name.as_str(), m));
    let inputs = Inputs {
        patch_dir: &cli.patch_dir,
        system_map: map,
        mcount: &kernel.mcount,
        modules: &kernel.modules,
        exports: kernel.exports.as_ref(),
        kdir: cli.kdir.as_deref(),
        filter_functions: kernel.filter_functions.as_ref(),
        allow_unchecked_trace: cli.unchecked_trace,
    };
    let (plan, more) = validate::validate(&manifest, &inputs);
    diags.extend(more);
    // The manifest's problems in file order, then the others.
    diags.sort_by_key(|d| (d.file != file, d.line.is_none(), d.line));
    report(&diags, cli.quiet);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let plan = match plan {
        Some(plan) if errors == 0 => plan,
        _ => {
            eprintln!(
                "livegraft-gen: {errors} error{}; nothing was written",
                if errors == 1 { "" } else { "s" }
            );
            return Err(EXIT_INVALID);
        }
    };

    // 3. generating
    let out = match &cli.out {
        Some(o) => o.clone(),
        None => {
            let base = repo
                .clone()
                .or_else(|| std::env::current_dir().ok())
                .unwrap_or_else(|| PathBuf::from("."));
            base.join("out/patches").join(&plan.name)
        }
    };
    progress.stage("generating", &out.display().to_string());
    let header = manifest_header_path(&manifest_path, repo.as_deref());
    let files = generate::render(&plan, &header);
    if let Err(e) = generate::write_atomically(&out, &files) {
        eprintln!(
            "{}",
            Diagnostic::error(
                out.display().to_string(),
                "--out",
                format!("cannot write the output: {e}"),
                "choose another --out, or fix the permissions; nothing was written",
            )
        );
        return Err(EXIT_INVALID);
    }

    // 4. building
    if cli.build {
        let source = cli.patch_dir.join(
            manifest
                .patch
                .as_ref()
                .and_then(|p| p.source.as_ref())
                .map_or(validate::DEFAULT_SOURCE, |s| &s.value),
        );
        let offset = generate::copy_line_offset(&plan.source_text);
        let kdir = cli.kdir.clone().expect("checked by check_cli");
        let abs = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        let mut symvers: Vec<PathBuf> = cli.symvers.iter().map(|p| abs(p)).collect();
        if symvers.is_empty() {
            if let Some(s) = build::default_symvers(repo.as_deref()) {
                if !cli.quiet {
                    eprintln!(
                        "note: linking against {} (pass --symvers to choose)",
                        s.display()
                    );
                }
                symvers.push(s);
            } else if !cli.quiet {
                eprintln!(
                    "{}",
                    Diagnostic::warning(
                        "--symvers",
                        "livegraft_enable_patch",
                        "no Module.symvers given: modpost will not know livegraft's exports",
                        "pass --symvers <livegraft>/Module.symvers"
                    )
                );
            }
        }
        let cfg = BuildConfig::from_env(abs(&kdir), abs(&out), symvers, cli.verbose);
        let short = format!(
            "(make -C {} M={} modules)",
            cfg.kdir.display(),
            cfg.out.display()
        );
        progress.stage("building", &short);
        if cli.verbose {
            eprintln!("{}", cfg.command_line());
        }
        let result = {
            let _spinner = (!cli.verbose).then(|| progress.spinner());
            build::run(&cfg, &plan.name)
        };
        match result {
            Ok(ko) => {
                progress.done();
                println!("{}", ko.display());
            }
            Err(e) => {
                if let Some(log) = &e.log {
                    eprint!("{log}");
                    for n in livegraft_gen::checks::modpost_undefined(log) {
                        eprintln!(
                            "{}",
                            Diagnostic::error(
                                source.display().to_string(),
                                "undefined symbol",
                                format!(
                                    "`{n}` is not exported to modules (not in the tree's Module.symvers or \
                                     --symvers) and not declared as a [[symbol]]"
                                ),
                                format!(
                                    "declare it in patch.toml:\n[[symbol]]\nname = \"{n}\"\ntype = \"...\"  \
                                     # its C type\nand use it as LIVEGRAFT_SYM({n}) (C) or crate::symbols::{n}() \
                                     (Rust); or, if a module exports it, pass its Module.symvers with --symvers"
                                ),
                            )
                        );
                    }
                }
                eprintln!(
                    "{}",
                    Diagnostic::error(
                        cfg.out.display().to_string(),
                        "build",
                        e.message,
                        format!(
                            "the command was: {}\nthe generated source is kept in {}; its log is make.log there\n{}",
                            cfg.command_line(),
                            cfg.out.display(),
                            if plan.lang == validate::Lang::C {
                                format!("compiler messages name {} and its own line numbers", source.display())
                            } else {
                                format!(
                                    "replacements.rs there is {} with {offset} header line(s) added: subtract {offset} \
                                     from its line numbers",
                                    source.display()
                                )
                            }
                        )
                    )
                );
                return Err(EXIT_BUILD);
            }
        }
    } else {
        progress.done();
        println!("{}", out.display());
    }
    Ok(())
}

/// What the target kernel's files say, for validation.
struct KernelData {
    map: Option<(String, SystemMap)>,
    mcount: Mcount,
    modules: Vec<(String, String, ModuleSymbols)>,
    exports: Option<std::collections::HashSet<String>>,
    filter_functions: Option<std::collections::HashSet<String>>,
}

/// Loads System.map, vmlinux's ftrace call sites and the --module-ko files;
/// unreadable or malformed files become diagnostics.
fn load_kernel_data(cli: &Cli, diags: &mut Vec<Diagnostic>) -> KernelData {
    let map_path = cli.system_map.clone().or_else(|| {
        let p = cli.kdir.as_ref()?.join("System.map");
        if p.is_file() {
            Some(p)
        } else {
            diags.push(Diagnostic::warning(
                p.display().to_string(),
                "--kdir",
                "no System.map in the kernel tree",
                "build the kernel, or pass --system-map",
            ));
            None
        }
    });
    let map = map_path.and_then(|p| {
        let name = p.display().to_string();
        let opt = if cli.system_map.is_some() {
            "--system-map"
        } else {
            "--kdir"
        };
        match std::fs::read_to_string(&p) {
            Ok(text) => match SystemMap::parse(&text) {
                Ok(m) => Some((name, m)),
                Err((line, what)) => {
                    diags.push(
                        Diagnostic::error(
                            &name,
                            opt,
                            what,
                            "pass the System.map of the target kernel",
                        )
                        .at_line(line),
                    );
                    None
                }
            },
            Err(e) => {
                diags.push(Diagnostic::error(
                    &name,
                    opt,
                    format!("cannot read: {e}"),
                    "check the path",
                ));
                None
            }
        }
    });
    let vmlinux = cli.vmlinux.clone().or_else(|| cli.kdir.as_ref().map(|k| k.join("vmlinux")));
    let mcount = match &vmlinux {
        None => Mcount::NoKdir,
        Some(v) => {
            let name = v.display().to_string();
            match std::fs::read(&v) {
                Err(_) => Mcount::NoVmlinux(name),
                Ok(data) => match symbols::mcount_locations(&data) {
                    Ok(Some(set)) => Mcount::Loaded(set),
                    Ok(None) => Mcount::NoTable(name),
                    Err(e) => {
                        diags.push(Diagnostic::error(
                            &name,
                            "--kdir",
                            e,
                            "the kernel tree's vmlinux must be an ELF image",
                        ));
                        Mcount::NoTable(name)
                    }
                },
            }
        }
    };
    let mut modules = Vec::new();
    for ko in &cli.module_ko {
        let name = ko.display().to_string();
        match std::fs::read(ko)
            .map_err(|e| e.to_string())
            .and_then(|d| symbols::module_symbols(&d))
        {
            Ok(syms) => {
                let modname = symbols::module_name(&syms, ko);
                modules.push((name, modname, syms));
            }
            Err(e) => diags.push(Diagnostic::error(
                &name,
                "--module-ko",
                e,
                "pass the .ko file of a target module",
            )),
        }
    }
    // Exports: the tree's Module.symvers and every --symvers.
    let mut exports: Option<std::collections::HashSet<String>> = None;
    let tree = cli.kdir.as_ref().map(|k| k.join("Module.symvers")).filter(|p| p.is_file());
    for p in tree.iter().chain(cli.symvers.iter()) {
        if let Ok(text) = std::fs::read_to_string(p) {
            exports
                .get_or_insert_with(Default::default)
                .extend(livegraft_gen::checks::parse_symvers(&text));
        }
    }
    let filter_functions = cli.available_filter_functions.as_ref().and_then(|p| {
        match std::fs::read_to_string(p) {
            Ok(t) => Some(livegraft_gen::checks::parse_filter_functions(&t)),
            Err(e) => {
                diags.push(Diagnostic::error(
                    p.display().to_string(),
                    "--available-filter-functions",
                    format!("cannot read: {e}"),
                    "check the path",
                ));
                None
            }
        }
    });
    KernelData {
        map,
        mcount,
        modules,
        exports,
        filter_functions,
    }
}
