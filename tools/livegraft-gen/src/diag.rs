//! Diagnostics: every problem found is reported as
//!
//! ```text
//! error: <file>[:<line>]: <entry>: <what is wrong>
//!   help: <how to fix it>
//! ```
//!
//! and the tool collects all of them before it stops, so that one run shows
//! everything there is to fix.

use std::fmt;

/// How bad a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Generation cannot go on.
    Error,
    /// Something could not be checked, or looks suspicious; generation goes on.
    Warning,
}

/// One problem, located in a file and an entry of that file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the problem is in (as the user named it), or the option that named it.
    pub file: String,
    /// 1-based line in `file`, when known.
    pub line: Option<usize>,
    /// The entry of the file: `[patch]`, `[[function]] #2 (cmdline_proc_show)`, ...
    pub entry: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it (always present on errors).
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error, with the help line every error must have.
    pub fn error(
        file: impl Into<String>,
        entry: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.into(),
            line: None,
            entry: entry.into(),
            message: message.into(),
            help: Some(help.into()),
        }
    }

    /// A warning; `help` may be empty for none.
    pub fn warning(
        file: impl Into<String>,
        entry: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        let help = help.into();
        Diagnostic {
            severity: Severity::Warning,
            file: file.into(),
            line: None,
            entry: entry.into(),
            message: message.into(),
            help: (!help.is_empty()).then_some(help),
        }
    }

    /// The same diagnostic, located at `line` (1-based) of its file.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}: {}", self.entry, self.message)?;
        if let Some(help) = &self.help {
            for (i, l) in help.lines().enumerate() {
                let lead = if i == 0 { "  help: " } else { "        " };
                write!(f, "\n{lead}{l}")?;
            }
        }
        Ok(())
    }
}

/// The 1-based line of byte offset `pos` in `text`.
pub fn line_of(text: &str, pos: usize) -> usize {
    let pos = pos.min(text.len());
    text.as_bytes()[..pos]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Levenshtein distance, for "did you mean" suggestions (short strings only).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| c.len().abs_diff(word.len()) <= limit)
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_file_line_entry_and_help() {
        let d =
            Diagnostic::error("p/patch.toml", "[patch]", "bad", "fix it\nsecond line").at_line(3);
        assert_eq!(
            d.to_string(),
            "error: p/patch.toml:3: [patch]: bad\n  help: fix it\n        second line"
        );
        let w = Diagnostic::warning("f", "e", "m", "");
        assert_eq!(w.to_string(), "warning: f: e: m");
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("functon", ["function", "patch"]),
            Some("function")
        );
        assert_eq!(
            did_you_mean("replacment", ["target", "replacement"]),
            Some("replacement")
        );
        assert_eq!(did_you_mean("zzz", ["target", "object"]), None);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 0), 1);
    }
}
