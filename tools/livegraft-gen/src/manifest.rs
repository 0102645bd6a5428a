//! Parsing of `patch.toml`, the patch manifest.
//!
//! ```toml
//! [patch]
//! name = "livegraft_cmdline"                       # module name and /sys/kernel/livegraft/<name>
//! description = "cat /proc/cmdline prints a patched message"
//! source = "replacements.rs"                       # optional, relative to the patch directory
//!
//! [[function]]                                     # one per replaced function
//! target = "cmdline_proc_show"                     # the function to replace
//! object = "vmlinux"                               # optional: "vmlinux" or a module name
//! sympos = 0                                       # optional: 0 (unique) or N (the Nth of that name)
//! replacement = "livegraft_cmdline_proc_show"      # an `extern "C" fn` of the source
//! original = "orig_cmdline_proc_show"              # optional: how the source calls the original
//!
//! [[symbol]]                                       # optional: a non-exported symbol the source uses
//! name = "lg_target_scale"                         # its name
//! object = "lg_target"                             # optional: "vmlinux" (default) or a module name
//! sympos = 0                                       # optional: as for functions
//! type = "int (int)"                               # its C type (C source) or Rust type (Rust source)
//!
//! [[callbacks]]                                    # optional: one per object with callbacks
//! object = "lg_target"                             # optional: "vmlinux" (default) or a module name
//! pre_patch = "my_pre_patch"                       # optional: `fn(&Object) -> Result` (Rust)
//! post_patch = "my_post_patch"                     # optional: `fn(&Object)`; likewise
//! pre_unpatch = "my_pre_unpatch"                   # the unpatching ones
//! post_unpatch = "my_post_unpatch"
//!
//! [[state]]                                        # optional: a system state the patch handles
//! id = 7                                           # non-zero
//! version = 1                                      # optional, default 0
//! ```
//!
//! `[patch]` also takes `replace = true`: a cumulative patch that replaces
//! every patch enabled before it (atomic replace).
//!
//! This module only checks the *shape* of the file (TOML syntax, known keys,
//! value types); what the values mean is checked by [`crate::validate`]. Each
//! table is deserialized on its own, so that a mistake in one `[[function]]`
//! does not hide the mistakes in the others: every problem is reported.

use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::diag::{did_you_mean, line_of, Diagnostic};

/// The manifest's file name inside a patch directory.
pub const MANIFEST_FILE: &str = "patch.toml";

/// The type of a manifest value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// An integer.
    Int,
    /// A boolean.
    Bool,
}

/// The keys of `[patch]` and their types.
pub const PATCH_KEYS: &[(&str, Kind)] = &[
    ("name", Kind::Str),
    ("description", Kind::Str),
    ("source", Kind::Str),
    ("replace", Kind::Bool),
];

/// The callbacks of a `[[callbacks]]` table, in upstream's order.
pub const CALLBACK_NAMES: &[&str] = &["pre_patch", "post_patch", "pre_unpatch", "post_unpatch"];

/// The keys of a `[[callbacks]]` and their types.
pub const CALLBACKS_KEYS: &[(&str, Kind)] = &[
    ("object", Kind::Str),
    ("pre_patch", Kind::Str),
    ("post_patch", Kind::Str),
    ("pre_unpatch", Kind::Str),
    ("post_unpatch", Kind::Str),
];

/// The keys of a `[[state]]` and their types.
pub const STATE_KEYS: &[(&str, Kind)] = &[("id", Kind::Int), ("version", Kind::Int)];

/// One `[[callbacks]]` table: the callbacks of one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbacksTable {
    /// 1-based position among the `[[callbacks]]` tables.
    pub index: usize,
    /// Line of its `[[callbacks]]` header.
    pub line: usize,
    /// `object`.
    pub object: Option<Loc<String>>,
    /// The callbacks given, in [`CALLBACK_NAMES`] order: (key, function).
    pub callbacks: Vec<(&'static str, Loc<String>)>,
    /// Keys with a value of the wrong type, or misspelt (already reported).
    pub bad_keys: Vec<String>,
}

impl CallbacksTable {
    /// How diagnostics name this entry: `[[callbacks]] #1 (lg_target)`.
    pub fn entry(&self) -> String {
        match &self.object {
            Some(o) => format!("[[callbacks]] #{} ({})", self.index, o.value),
            None => format!("[[callbacks]] #{}", self.index),
        }
    }
}

/// One `[[state]]` table: a system state (upstream's `klp_state`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateTable {
    /// 1-based position among the `[[state]]` tables.
    pub index: usize,
    /// Line of its `[[state]]` header.
    pub line: usize,
    /// `id`.
    pub id: Option<Loc<i64>>,
    /// `version`.
    pub version: Option<Loc<i64>>,
    /// Keys with a value of the wrong type, or misspelt (already reported).
    pub bad_keys: Vec<String>,
}

impl StateTable {
    /// How diagnostics name this entry: `[[state]] #1 (id 7)`.
    pub fn entry(&self) -> String {
        match &self.id {
            Some(i) => format!("[[state]] #{} (id {})", self.index, i.value),
            None => format!("[[state]] #{}", self.index),
        }
    }
}

/// Serde's view of a `[[callbacks]]`: unknown keys are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbacksSerde {
    object: Option<Spanned<String>>,
    pre_patch: Option<Spanned<String>>,
    post_patch: Option<Spanned<String>>,
    pre_unpatch: Option<Spanned<String>>,
    post_unpatch: Option<Spanned<String>>,
}

/// Serde's view of a `[[state]]`: unknown keys are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateSerde {
    id: Option<Spanned<i64>>,
    version: Option<Spanned<i64>>,
}
/// The keys of a `[[function]]` and their types.
pub const FUNCTION_KEYS: &[(&str, Kind)] = &[
    ("target", Kind::Str),
    ("object", Kind::Str),
    ("sympos", Kind::Int),
    ("replacement", Kind::Str),
    ("original", Kind::Str),
];

/// The keys of a `[[symbol]]` and their types.
pub const SYMBOL_KEYS: &[(&str, Kind)] = &[
    ("name", Kind::Str),
    ("object", Kind::Str),
    ("sympos", Kind::Int),
    ("type", Kind::Str),
];

/// One `[[symbol]]` table: a non-exported kernel symbol the source uses,
/// resolved by `livegraft_resolve_symbols()` when the module loads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolTable {
    /// 1-based position among the `[[symbol]]` tables.
    pub index: usize,
    /// Line of its `[[symbol]]` header.
    pub line: usize,
    /// `name`.
    pub name: Option<Loc<String>>,
    /// `object`.
    pub object: Option<Loc<String>>,
    /// `sympos`.
    pub sympos: Option<Loc<i64>>,
    /// `type`.
    pub ty: Option<Loc<String>>,
    /// Keys with a value of the wrong type, or misspelt (already reported).
    pub bad_keys: Vec<String>,
}

impl SymbolTable {
    /// How diagnostics name this entry: `[[symbol]] #2 (foo)`.
    pub fn entry(&self) -> String {
        match &self.name {
            Some(t) => format!("[[symbol]] #{} ({})", self.index, t.value),
            None => format!("[[symbol]] #{}", self.index),
        }
    }
}

/// Serde's view of a `[[symbol]]`: unknown keys are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SymbolSerde {
    name: Option<Spanned<String>>,
    object: Option<Spanned<String>>,
    sympos: Option<Spanned<i64>>,
    #[serde(rename = "type")]
    ty: Option<Spanned<String>>,
}

/// A value and the line of the manifest it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc<T> {
    /// The value.
    pub value: T,
    /// Its 1-based line in the manifest.
    pub line: usize,
}

/// The `[patch]` table, every key still optional: missing keys are reported
/// by validation together with everything else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchTable {
    /// Line of the `[patch]` header.
    pub line: usize,
    /// `name`.
    pub name: Option<Loc<String>>,
    /// `description`.
    pub description: Option<Loc<String>>,
    /// `source`.
    pub source: Option<Loc<String>>,
    /// `replace`.
    pub replace: Option<Loc<bool>>,
    /// Keys with a value of the wrong type, or misspelt (already reported).
    pub bad_keys: Vec<String>,
}

/// One `[[function]]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionTable {
    /// 1-based position among the `[[function]]` tables.
    pub index: usize,
    /// Line of its `[[function]]` header.
    pub line: usize,
    /// `target`.
    pub target: Option<Loc<String>>,
    /// `object`.
    pub object: Option<Loc<String>>,
    /// `sympos`.
    pub sympos: Option<Loc<i64>>,
    /// `replacement`.
    pub replacement: Option<Loc<String>>,
    /// `original`.
    pub original: Option<Loc<String>>,
    /// Keys with a value of the wrong type, or misspelt (already reported).
    pub bad_keys: Vec<String>,
}

impl FunctionTable {
    /// How diagnostics name this entry: `[[function]] #2 (cmdline_proc_show)`.
    pub fn entry(&self) -> String {
        match &self.target {
            Some(t) => format!("[[function]] #{} ({})", self.index, t.value),
            None => format!("[[function]] #{}", self.index),
        }
    }
}

/// A manifest whose shape is right (or as much of it as could be read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest's path, as diagnostics show it.
    pub file: String,
    /// `[patch]`, if present and well-formed.
    pub patch: Option<PatchTable>,
    /// The well-formed `[[function]]` tables.
    pub functions: Vec<FunctionTable>,
    /// How many `[[function]]` tables there are, well-formed or not.
    pub function_count: usize,
    /// The well-formed `[[symbol]]` tables.
    pub symbols: Vec<SymbolTable>,
    /// The well-formed `[[callbacks]]` tables.
    pub callbacks: Vec<CallbacksTable>,
    /// The well-formed `[[state]]` tables.
    pub states: Vec<StateTable>,
    /// How many errors parsing found: a manifest with any is not usable.
    pub parse_errors: usize,
    /// The file is not TOML: there is nothing to validate.
    pub syntax_error: bool,
}

/// Serde's view of `[patch]`: unknown keys are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchSerde {
    name: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    replace: Option<Spanned<bool>>,
}

/// Serde's view of a `[[function]]`: unknown keys are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionSerde {
    target: Option<Spanned<String>>,
    object: Option<Spanned<String>>,
    sympos: Option<Spanned<i64>>,
    replacement: Option<Spanned<String>>,
    original: Option<Spanned<String>>,
}

/// An example manifest, for help lines.
pub const EXAMPLE: &str = r#"[patch]
name = "livegraft_cmdline"
description = "cat /proc/cmdline prints a patched message"

[[function]]
target = "cmdline_proc_show"
replacement = "livegraft_cmdline_proc_show""#;

/// Parses the manifest `text`, read from `file` (as diagnostics name it).
///
/// Returns what could be read and every problem found; the manifest is only
/// usable if no error was returned.
pub fn parse(file: &str, text: &str) -> (Manifest, Vec<Diagnostic>) {
    let mut manifest = Manifest {
        file: file.to_string(),
        ..Manifest::default()
    };
    let mut diags = Vec::new();
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            diags.push(
                Diagnostic::error(
                    file,
                    "TOML syntax",
                    e.message().trim_end(),
                    "fix the syntax; a manifest looks like this:\n".to_string() + EXAMPLE,
                )
                .at_line(line),
            );
            manifest.parse_errors = 1;
            manifest.syntax_error = true;
            return (manifest, diags);
        }
    };
    let loc = |span: std::ops::Range<usize>| line_of(text, span.start);
    for (key, value) in root.get_ref().iter() {
        let line = loc(key.span());
        match key.get_ref().as_ref() {
            "patch" => {
                let Some(table) = value.get_ref().as_table() else {
                    diags.push(
                        Diagnostic::error(
                            file,
                            "[patch]",
                            format!(
                                "`patch` must be a table, not a {}",
                                value.get_ref().type_str()
                            ),
                            "write the patch settings under a `[patch]` header",
                        )
                        .at_line(line),
                    );
                    continue;
                };
                let header = header_line(text, "[patch]").unwrap_or(line);
                let (clean, bad_keys) =
                    clean_table(file, "[patch]", table, PATCH_KEYS, text, &mut diags);
                let value = Spanned::new(value.span(), DeValue::Table(clean));
                match PatchSerde::deserialize(ValueDeserializer::from(value)) {
                    Ok(p) => {
                        manifest.patch = Some(PatchTable {
                            line: header,
                            name: p.name.map(|s| located(text, s)),
                            description: p.description.map(|s| located(text, s)),
                            source: p.source.map(|s| located(text, s)),
                            replace: p.replace.map(|s| located(text, s)),
                            bad_keys,
                        })
                    }
                    Err(e) => diags.push(serde_error(file, "[patch]", header, text, &e)),
                }
            }
            "function" => {
                let not_array = if value.get_ref().is_table() {
                    "functions are an array of tables: write `[[function]]` (double brackets), once per function"
                } else {
                    "describe each function in its own `[[function]]` table"
                };
                let help = (
                    not_array,
                    "describe each function in its own `[[function]]` table",
                );
                let name = |t: &DeTable<'_>| str_key(t, "target");
                let Some((count, items)) = array_of_tables(
                    file,
                    text,
                    "function",
                    line,
                    value,
                    FUNCTION_KEYS,
                    help,
                    name,
                    &mut diags,
                ) else {
                    continue;
                };
                manifest.function_count = count;
                for it in items {
                    match FunctionSerde::deserialize(ValueDeserializer::from(it.value)) {
                        Ok(f) => manifest.functions.push(FunctionTable {
                            index: it.index,
                            line: it.header,
                            target: f.target.map(|s| located(text, s)),
                            object: f.object.map(|s| located(text, s)),
                            sympos: f.sympos.map(|s| located(text, s)),
                            replacement: f.replacement.map(|s| located(text, s)),
                            original: f.original.map(|s| located(text, s)),
                            bad_keys: it.bad_keys,
                        }),
                        Err(e) => diags.push(serde_error(file, &it.entry, it.header, text, &e)),
                    }
                }
            }
            "symbol" => {
                let help = (
                    "declare each symbol in its own `[[symbol]]` table (double brackets)",
                    "declare each symbol in its own `[[symbol]]` table",
                );
                let name = |t: &DeTable<'_>| str_key(t, "name");
                let Some((_, items)) = array_of_tables(
                    file,
                    text,
                    "symbol",
                    line,
                    value,
                    SYMBOL_KEYS,
                    help,
                    name,
                    &mut diags,
                ) else {
                    continue;
                };
                for it in items {
                    match SymbolSerde::deserialize(ValueDeserializer::from(it.value)) {
                        Ok(f) => manifest.symbols.push(SymbolTable {
                            index: it.index,
                            line: it.header,
                            name: f.name.map(|s| located(text, s)),
                            object: f.object.map(|s| located(text, s)),
                            sympos: f.sympos.map(|s| located(text, s)),
                            ty: f.ty.map(|s| located(text, s)),
                            bad_keys: it.bad_keys,
                        }),
                        Err(e) => diags.push(serde_error(file, &it.entry, it.header, text, &e)),
                    }
                }
            }
            "callbacks" => {
                let help = "describe the callbacks of each object in its own `[[callbacks]]` table (double brackets)";
                let name = |t: &DeTable<'_>| str_key(t, "object");
                let Some((_, items)) = array_of_tables(
                    file,
                    text,
                    "callbacks",
                    line,
                    value,
                    CALLBACKS_KEYS,
                    (help, help),
                    name,
                    &mut diags,
                ) else {
                    continue;
                };
                for it in items {
                    match CallbacksSerde::deserialize(ValueDeserializer::from(it.value)) {
                        Ok(c) => {
                            let given = [
                                ("pre_patch", c.pre_patch),
                                ("post_patch", c.post_patch),
                                ("pre_unpatch", c.pre_unpatch),
                                ("post_unpatch", c.post_unpatch),
                            ];
                            manifest.callbacks.push(CallbacksTable {
                                index: it.index,
                                line: it.header,
                                object: c.object.map(|s| located(text, s)),
                                callbacks: given
                                    .into_iter()
                                    .filter_map(|(k, v)| v.map(|v| (k, located(text, v))))
                                    .collect(),
                                bad_keys: it.bad_keys,
                            })
                        }
                        Err(e) => diags.push(serde_error(file, &it.entry, it.header, text, &e)),
                    }
                }
            }
            "state" => {
                let help = "describe each state in its own `[[state]]` table (double brackets)";
                let name = |t: &DeTable<'_>| {
                    t.get("id")
                        .and_then(|v| v.get_ref().as_integer())
                        .map(|i| format!("id {}", i.as_str()))
                };
                let Some((_, items)) = array_of_tables(
                    file,
                    text,
                    "state",
                    line,
                    value,
                    STATE_KEYS,
                    (help, help),
                    name,
                    &mut diags,
                ) else {
                    continue;
                };
                for it in items {
                    match StateSerde::deserialize(ValueDeserializer::from(it.value)) {
                        Ok(st) => manifest.states.push(StateTable {
                            index: it.index,
                            line: it.header,
                            id: st.id.map(|s| located(text, s)),
                            version: st.version.map(|s| located(text, s)),
                            bad_keys: it.bad_keys,
                        }),
                        Err(e) => diags.push(serde_error(file, &it.entry, it.header, text, &e)),
                    }
                }
            }
            other => {
                let hint = match did_you_mean(other, ["patch", "function", "symbol", "callbacks", "state"]) {
                    Some("patch") => " (did you mean `[patch]`?)".to_string(),
                    Some("symbol") => " (did you mean `[[symbol]]`?)".to_string(),
                    Some("callbacks") => " (did you mean `[[callbacks]]`?)".to_string(),
                    Some("state") => " (did you mean `[[state]]`?)".to_string(),
                    Some(_) => " (did you mean `[[function]]`?)".to_string(),
                    None => String::new(),
                };
                let shown = match value.get_ref() {
                    DeValue::Table(_) => format!("[{other}]"),
                    DeValue::Array(a) if a.iter().all(|v| v.get_ref().is_table()) => {
                        format!("[[{other}]]")
                    }
                    _ => format!("`{other}`"),
                };
                diags.push(
                    Diagnostic::error(
                        file,
                        shown.clone(),
                        format!("unknown table or key {shown}{hint}"),
                        "a manifest has one `[patch]` table, one `[[function]]` table per function, \
                         one `[[symbol]]` table per non-exported symbol, one `[[callbacks]]` table per object \
                         with callbacks and one `[[state]]` table per system state; nothing else is allowed \
                         at the top level",
                    )
                    .at_line(line),
                );
            }
        }
    }
    if root.get_ref().get("patch").is_none() {
        diags.push(
            Diagnostic::error(
                file,
                "[patch]",
                "the `[patch]` table is missing",
                "start the manifest with:\n".to_string() + EXAMPLE,
            )
            .at_line(1),
        );
    }
    diags.sort_by_key(|d| d.line);
    manifest.parse_errors = diags.iter().filter(|d| d.is_error()).count();
    (manifest, diags)
}

/// One table of an array of tables (`[[what]]`) whose keys were checked.
struct ArrayItem<'i> {
    /// 1-based position in the array.
    index: usize,
    /// Line of its `[[what]]` header.
    header: usize,
    /// How diagnostics name it: `[[what]] #2 (name)`.
    entry: String,
    /// The table without its unknown and mistyped keys, for serde.
    value: Spanned<DeValue<'i>>,
    /// Its mistyped or misspelt keys (already reported).
    bad_keys: Vec<String>,
}

/// The tables of the array of tables `[[what]]` (`value`, whose key is on
/// `line`): the array's length and each table, its keys checked against
/// `keys` (see [`clean_table`]) and named in diagnostics by `name`. A value
/// that is not an array, or an item that is not a table, is reported with
/// `help.0` or `help.1`; the former gives `None`, the latter is skipped.
#[allow(clippy::too_many_arguments)]
fn array_of_tables<'i>(
    file: &str,
    text: &str,
    what: &str,
    line: usize,
    value: &Spanned<DeValue<'i>>,
    keys: &[(&str, Kind)],
    help: (&str, &str),
    name: impl Fn(&DeTable<'i>) -> Option<String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(usize, Vec<ArrayItem<'i>>)> {
    let Some(array) = value.get_ref().as_array() else {
        diags.push(
            Diagnostic::error(
                file,
                format!("[{what}]"),
                format!(
                    "`{what}` must be an array of tables, not a {}",
                    value.get_ref().type_str()
                ),
                help.0,
            )
            .at_line(line),
        );
        return None;
    };
    let headers = header_lines(text, &format!("[[{what}]]"));
    let mut items = Vec::new();
    for (i, item) in array.iter().enumerate() {
        let index = i + 1;
        let header = headers
            .get(i)
            .copied()
            .unwrap_or_else(|| line_of(text, item.span().start));
        let entry = format!("[[{what}]] #{index}");
        let Some(table) = item.get_ref().as_table() else {
            diags.push(
                Diagnostic::error(
                    file,
                    entry,
                    format!("must be a table, not a {}", item.get_ref().type_str()),
                    help.1,
                )
                .at_line(header),
            );
            continue;
        };
        let entry = match name(table) {
            Some(n) => format!("{entry} ({n})"),
            None => entry,
        };
        let (clean, bad_keys) = clean_table(file, &entry, table, keys, text, diags);
        items.push(ArrayItem {
            index,
            header,
            entry,
            value: Spanned::new(item.span(), DeValue::Table(clean)),
            bad_keys,
        });
    }
    Some((array.len(), items))
}

/// The string value of `key` in `table`, if it has one.
fn str_key(table: &DeTable<'_>, key: &str) -> Option<String> {
    table
        .get(key)
        .and_then(|v| v.get_ref().as_str())
        .map(str::to_string)
}

/// Reports every key of `table` that is not in `schema`, or whose value has
/// the wrong type; returns the table without them, and the wrongly typed keys.
fn clean_table<'i>(
    file: &str,
    entry: &str,
    table: &DeTable<'i>,
    schema: &[(&str, Kind)],
    text: &str,
    diags: &mut Vec<Diagnostic>,
) -> (DeTable<'i>, Vec<String>) {
    let mut clean = table.clone();
    let mut bad = Vec::new();
    for (key, value) in table.iter() {
        let k: &str = key.get_ref().as_ref();
        let line = line_of(text, key.span().start);
        let known = schema.iter().map(|(k, _)| *k);
        match schema.iter().find(|(name, _)| *name == k) {
            None => {
                let expected = known
                    .clone()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let kind = entry_kind(entry);
                let help = match did_you_mean(k, known) {
                    Some(s) => {
                        // A misspelt key: do not also report the real one as missing.
                        if !table.contains_key(s) {
                            bad.push(s.to_string());
                        }
                        format!("did you mean `{s}`? The keys of {kind} are {expected}")
                    }
                    None => format!("remove it; the keys of {kind} are {expected}"),
                };
                diags.push(
                    Diagnostic::error(file, entry, format!("unknown key `{k}`"), help)
                        .at_line(line),
                );
                clean.remove(k);
            }
            Some((_, kind)) => {
                let v = value.get_ref();
                let (ok, want, help) = match kind {
                    Kind::Str => (
                        v.is_str(),
                        "a string",
                        format!("write `{k} = \"...\"`, in double quotes"),
                    ),
                    Kind::Int => (
                        v.is_integer(),
                        "an integer",
                        format!("write `{k} = 0` or `{k} = 1`, without quotes"),
                    ),
                    Kind::Bool => (
                        v.is_bool(),
                        "a boolean",
                        format!("write `{k} = true` or `{k} = false`, without quotes"),
                    ),
                };
                if !ok {
                    diags.push(
                        Diagnostic::error(
                            file,
                            entry,
                            format!("`{k}` must be {want}, not a {}", v.type_str()),
                            help,
                        )
                        .at_line(line),
                    );
                    clean.remove(k);
                    bad.push(k.to_string());
                }
            }
        }
    }
    (clean, bad)
}

/// `[patch]` or `[[function]]`, from an entry name.
fn entry_kind(entry: &str) -> &'static str {
    if entry.starts_with("[patch]") {
        "[patch]"
    } else if entry.starts_with("[[symbol]]") {
        "[[symbol]]"
    } else if entry.starts_with("[[callbacks]]") {
        "[[callbacks]]"
    } else if entry.starts_with("[[state]]") {
        "[[state]]"
    } else {
        "[[function]]"
    }
}

/// Turns a serde error (wrong value type, mostly) into a diagnostic.
fn serde_error(
    file: &str,
    entry: &str,
    header: usize,
    text: &str,
    e: &toml::de::Error,
) -> Diagnostic {
    let line = e.span().map_or(header, |s| line_of(text, s.start));
    let msg = e.message().trim_end();
    let help = if msg.contains("expected a string") || msg.contains("expected i64") {
        "`sympos`, `id` and `version` are integers, `replace` a boolean; every other value is a string in double quotes"
            .to_string()
    } else {
        format!("compare with this example:\n{EXAMPLE}")
    };
    Diagnostic::error(file, entry, msg, help).at_line(line)
}

/// A spanned value as a [`Loc`].
fn located<T>(text: &str, s: Spanned<T>) -> Loc<T> {
    let line = line_of(text, s.span().start);
    Loc {
        value: s.into_inner(),
        line,
    }
}

/// The line of the first header line equal to `header` (ignoring spaces and comments).
fn header_line(text: &str, header: &str) -> Option<usize> {
    header_lines(text, header).first().copied()
}

/// The lines of every header line equal to `header`, in order.
fn header_lines(text: &str, header: &str) -> Vec<usize> {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.split('#').next().unwrap_or("");
            squeeze(l) == header
        })
        .map(|(i, _)| i + 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_skip_comments_and_spaces() {
        let t = "# x\n[ patch ] # c\n\n[[function]]\n[[ function ]]\n";
        assert_eq!(header_line(t, "[patch]"), Some(2));
        assert_eq!(header_lines(t, "[[function]]"), vec![4, 5]);
    }

    #[test]
    fn spans_become_lines() {
        let t = "[patch]\nname = \"a\"\ndescription = \"d\"\n\n[[function]]\ntarget = \"t\"\nreplacement = \"r\"\n";
        let (m, d) = parse("p.toml", t);
        assert!(d.is_empty(), "{d:?}");
        let p = m.patch.unwrap();
        assert_eq!(p.line, 1);
        assert_eq!(p.name.unwrap().line, 2);
        assert_eq!(m.functions[0].line, 5);
        assert_eq!(m.functions[0].replacement.as_ref().unwrap().line, 7);
        assert_eq!(m.functions[0].entry(), "[[function]] #1 (t)");
    }
}
