//! livegraft's kernel log lines (`/dev/kmsg` records or `dmesg` output):
//! the transition sequence of each patch, with timings.

use serde::Serialize;
use std::collections::BTreeMap;

/// One kernel log record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// `/dev/kmsg` sequence number (None for `dmesg` text).
    pub seq: Option<u64>,
    /// Microseconds since boot.
    pub ts_us: Option<u64>,
    pub msg: String,
}

impl Record {
    /// A `/dev/kmsg` record ("PRI,SEQ,TS,FLAGS;MESSAGE") or a `dmesg` line
    /// ("[   12.345678] MESSAGE"), or a bare message. Continuation lines
    /// (" KEY=VALUE") give None.
    pub fn parse(line: &str) -> Option<Record> {
        let line = line.trim_end_matches('\n');
        if line.starts_with(' ') && !line.starts_with(" [") || line.is_empty() {
            return None;
        }
        if let Some((head, msg)) = line.split_once(';') {
            let f: Vec<&str> = head.split(',').collect();
            if f.len() >= 3 && f.iter().take(3).all(|x| x.parse::<u64>().is_ok()) {
                return Some(Record { seq: f[1].parse().ok(), ts_us: f[2].parse().ok(), msg: msg.to_string() });
            }
        }
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('[') {
            if let Some((ts, msg)) = rest.split_once(']') {
                if let Some((s, us)) = ts.trim().split_once('.') {
                    if let (Ok(s), Ok(us)) = (s.parse::<u64>(), us.parse::<u64>()) {
                        return Some(Record {
                            seq: None,
                            ts_us: s.checked_mul(1_000_000).and_then(|x| x.checked_add(us)),
                            msg: msg.strip_prefix(' ').unwrap_or(msg).to_string(),
                        });
                    }
                }
            }
        }
        Some(Record { seq: None, ts_us: None, msg: line.to_string() })
    }

    /// The text after "livegraft: ", for livegraft's own lines.
    pub fn livegraft_text(&self) -> Option<&str> {
        self.msg.strip_prefix("livegraft: ")
    }

    /// The text after "livegraft-stats: ": livegraft's details of the
    /// transition in progress or just completed (only one runs at a time),
    /// which never name the patch (a patch's own lines are upstream's).
    pub fn stats_text(&self) -> Option<&str> {
        self.msg.strip_prefix("livegraft-stats: ")
    }
}

/// What a livegraft log line says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    CoreLoaded { version: String, abi: Option<u32> },
    CoreUnloaded,
    Enabling { patch: String },
    Initializing { patch: String, direction: String },
    Starting { patch: String, direction: String, setup_us: Option<u64> },
    Reversing { patch: String, from: String, to: String },
    Completing { patch: String, direction: String },
    Complete { patch: String, direction: String },
    Switched { patch: String, ms: u64, setup_us: Option<u64>, by: BTreeMap<String, u64> },
    Forcing { patch: String },
    /// A task holding the transition (after `report_after_ms`).
    Stalled { patch: String, task: String },
    /// A patch refused (before it had a name, or naming it).
    Refused { patch: Option<String>, why: String },
    Other { patch: Option<String>, text: String },
}

fn quoted_name(t: &str) -> Option<(&str, &str)> {
    let rest = t.strip_prefix('\'')?;
    let (name, after) = rest.split_once("': ")?;
    Some((name, after))
}

fn direction_of(verb: &str) -> Option<&str> {
    match verb {
        "patching" | "unpatching" => Some(verb),
        _ => None,
    }
}

impl Event {
    /// Parses a `livegraft-stats:` line's text of the transition of `patch`
    /// (the last one the log named): its switch summary or a stalled task.
    pub fn parse_stats(t: &str, patch: &str) -> Option<Event> {
        let p = patch.to_string();
        if let Some(task) = t.strip_prefix("pending: ") {
            return Some(Event::Stalled { patch: p, task: task.to_string() });
        }
        // "<direction> transition: setup N us, switched in M ms: kind=n ..."
        let (head, tail) = t.split_once(" transition: ")?;
        direction_of(head)?;
        let words: Vec<&str> = tail.split_whitespace().collect();
        match words.as_slice() {
            ["setup", setup, "us,", "switched", "in", ms, "ms:", kinds @ ..] => Some(Event::Switched {
                patch: p,
                ms: ms.parse().unwrap_or(0),
                setup_us: setup.parse().ok(),
                by: kinds
                    .iter()
                    .filter_map(|kv| kv.split_once('='))
                    .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
                    .collect(),
            }),
            _ => None,
        }
    }

    /// Parses a livegraft line's text (after "livegraft: ").
    pub fn parse(t: &str) -> Event {
        if let Some(rest) = t.strip_prefix("livegraft ") {
            if let Some((ver, after)) = rest.split_once(" loaded") {
                let abi = after.split("patch ABI ").nth(1).and_then(|x| x.trim_end_matches(')').trim().parse().ok());
                return Event::CoreLoaded { version: ver.to_string(), abi };
            }
        }
        if t == "livegraft unloaded" {
            return Event::CoreUnloaded;
        }
        if let Some(n) = t.strip_prefix("enabling patch '") {
            return Event::Enabling { patch: n.trim_end_matches('\'').to_string() };
        }
        if let Some(why) = t.strip_prefix("refusing patch: ") {
            return Event::Refused { patch: None, why: why.to_string() };
        }
        let Some((patch, after)) = quoted_name(t) else {
            return Event::Other { patch: None, text: t.to_string() };
        };
        let p = patch.to_string();
        let words: Vec<&str> = after.split_whitespace().collect();
        match words.as_slice() {
            ["initializing", d, "transition"] if direction_of(d).is_some() => {
                return Event::Initializing { patch: p, direction: d.to_string() }
            }
            ["starting", d, "transition", rest @ ..] if direction_of(d).is_some() => {
                let setup_us = rest.get(1).and_then(|x| x.parse().ok());
                return Event::Starting { patch: p, direction: d.to_string(), setup_us };
            }
            ["completing", d, "transition"] if direction_of(d).is_some() => {
                return Event::Completing { patch: p, direction: d.to_string() }
            }
            [d, "complete"] if direction_of(d).is_some() => {
                return Event::Complete { patch: p, direction: d.to_string() }
            }
            ["reversing", "transition", "from", from, "to", to] => {
                return Event::Reversing { patch: p, from: from.to_string(), to: to.to_string() }
            }
            ["forcing", ..] => return Event::Forcing { patch: p },
            ["switched", "in", ms, "ms:", kinds @ ..] => {
                let by = kinds
                    .iter()
                    .filter_map(|kv| kv.split_once('='))
                    .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
                    .collect();
                return Event::Switched { patch: p, ms: ms.parse().unwrap_or(0), setup_us: None, by };
            }
            [task, "is", ..] | [task, "has", "an", "unreliable", ..] if task.contains(':') => {
                return Event::Stalled { patch: p, task: after.to_string() }
            }
            _ => {}
        }
        let refusal = ["not loaded", "not found", "already loaded", "in progress", "ambiguity", "has no", "listed twice", "is not code"];
        if refusal.iter().any(|r| after.contains(r)) {
            return Event::Refused { patch: Some(p), why: after.to_string() };
        }
        Event::Other { patch: Some(p), text: after.to_string() }
    }
}

/// One transition of one patch, as the log tells it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub patch: String,
    /// "patching" or "unpatching": the direction it started in.
    pub direction: String,
    /// Where it ended: "patching complete", "unpatching complete", or None
    /// while (as far as the log goes) it still runs.
    pub outcome: Option<String>,
    pub reversed: bool,
    pub forced: bool,
    /// Microseconds since boot of "initializing ... transition".
    pub start_us: Option<u64>,
    /// From start to "... complete", by the log's timestamps.
    pub duration_ms: Option<u64>,
    /// The kernel's own measure ("switched in N ms").
    pub switch_ms: Option<u64>,
    pub setup_us: Option<u64>,
    pub switched_by: BTreeMap<String, u64>,
    /// Stalled-task lines reported during it.
    pub stalled: Vec<String>,
}

/// Groups the livegraft lines of `records` into transitions, in log order;
/// only `patch`'s if given.
pub fn transitions(records: &[Record], patch: Option<&str>) -> Vec<Transition> {
    let mut done: Vec<Transition> = Vec::new();
    let mut open: BTreeMap<String, Transition> = BTreeMap::new();
    // The patch of the transition the last livegraft line named.
    let mut last: Option<String> = None;
    for r in records {
        let ev = if let Some(t) = r.livegraft_text() {
            Event::parse(t)
        } else if let (Some(t), Some(p)) = (r.stats_text(), last.as_deref()) {
            match Event::parse_stats(t, p) {
                Some(ev) => ev,
                None => continue,
            }
        } else {
            continue;
        };
        let name = match &ev {
            Event::Initializing { patch, .. }
            | Event::Starting { patch, .. }
            | Event::Reversing { patch, .. }
            | Event::Completing { patch, .. }
            | Event::Complete { patch, .. }
            | Event::Switched { patch, .. }
            | Event::Forcing { patch }
            | Event::Stalled { patch, .. } => patch.clone(),
            _ => continue,
        };
        last = Some(name.clone());
        if patch.is_some_and(|p| p != name) {
            continue;
        }
        if let Event::Initializing { direction, .. } = &ev {
            if let Some(prev) = open.remove(&name) {
                done.push(prev);
            }
            open.insert(
                name.clone(),
                Transition { patch: name, direction: direction.clone(), start_us: r.ts_us, ..Default::default() },
            );
            continue;
        }
        // A line of a transition whose start the log no longer holds.
        let tr = open.entry(name.clone()).or_insert_with(|| Transition {
            patch: name.clone(),
            direction: String::new(),
            ..Default::default()
        });
        match ev {
            Event::Starting { direction, setup_us, .. } => {
                tr.setup_us = setup_us;
                if tr.direction.is_empty() {
                    tr.direction = direction;
                }
            }
            Event::Reversing { .. } => tr.reversed = true,
            Event::Forcing { .. } => tr.forced = true,
            Event::Stalled { task, .. } => tr.stalled.push(task),
            Event::Complete { direction, .. } => {
                tr.outcome = Some(format!("{direction} complete"));
                if tr.direction.is_empty() {
                    tr.direction = direction;
                }
                if let (Some(s), Some(e)) = (tr.start_us, r.ts_us) {
                    tr.duration_ms = Some(e.saturating_sub(s) / 1000);
                }
            }
            Event::Switched { ms, setup_us, by, .. } => {
                tr.switch_ms = Some(ms);
                tr.switched_by = by;
                if setup_us.is_some() {
                    tr.setup_us = setup_us;
                }
                if let Some(t) = open.remove(&name) {
                    done.push(t);
                }
            }
            _ => {}
        }
    }
    done.extend(open.into_values());
    done
}

/// Reads every record of `/dev/kmsg` (or another file in that format) that
/// is in the buffer now, without blocking.
#[cfg(unix)]
pub fn read_kmsg(path: &std::path::Path) -> std::io::Result<Vec<Record>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16384];
    // /dev/kmsg returns one record per read; a plain file returns chunks.
    let mut pending = String::new();
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                pending.push_str(&String::from_utf8_lossy(&buf[..n]));
                while let Some(i) = pending.find('\n') {
                    let line: String = pending.drain(..=i).collect();
                    out.extend(Record::parse(&line));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            // EPIPE: records were overwritten since the last read; go on.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    out.extend(Record::parse(&pending));
    Ok(out)
}
