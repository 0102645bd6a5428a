//! The progress display on stderr: one `[i/n] stage` line per stage, a
//! summary line with the time each stage took, and a spinner with the
//! elapsed time while a long stage runs on a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Stage lines and timings; silent when quiet.
pub struct Progress {
    quiet: bool,
    total: usize,
    current: usize,
    start: Instant,
    stage_start: Instant,
    timings: Vec<(&'static str, Duration)>,
    stage_name: &'static str,
}

impl Progress {
    /// A display for `total` stages.
    pub fn new(total: usize, quiet: bool) -> Self {
        let now = Instant::now();
        Progress {
            quiet,
            total,
            current: 0,
            start: now,
            stage_start: now,
            timings: Vec::new(),
            stage_name: "",
        }
    }

    /// Ends the current stage (if any) and starts the next one, named `name`,
    /// printing `[i/n] name detail`.
    pub fn stage(&mut self, name: &'static str, detail: &str) {
        self.finish_stage();
        self.current += 1;
        self.stage_name = name;
        self.stage_start = Instant::now();
        if !self.quiet {
            let sep = if detail.is_empty() { "" } else { " " };
            eprintln!("[{}/{}] {name}{sep}{detail}", self.current, self.total);
        }
    }

    fn finish_stage(&mut self) {
        if self.current > 0 && self.timings.len() < self.current {
            self.timings
                .push((self.stage_name, self.stage_start.elapsed()));
        }
    }

    /// Ends the last stage and prints `done in <total> (<stage> <time>, ...)`.
    pub fn done(&mut self) {
        self.finish_stage();
        if self.quiet {
            return;
        }
        let parts: Vec<String> = self
            .timings
            .iter()
            .map(|(n, d)| format!("{n} {}", fmt_duration(*d)))
            .collect();
        eprintln!(
            "done in {} ({})",
            fmt_duration(self.start.elapsed()),
            parts.join(", ")
        );
    }

    /// Starts a spinner showing the elapsed time of the current stage, when
    /// stderr is a terminal and the display is not quiet.
    pub fn spinner(&self) -> Spinner {
        if self.quiet || !std::io::stderr().is_terminal() {
            return Spinner {
                stop: None,
                thread: None,
            };
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let start = self.stage_start;
        let thread = std::thread::spawn(move || {
            const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) {
                eprint!(
                    "\r      {} {}  ",
                    FRAMES[i % 4],
                    fmt_duration(start.elapsed())
                );
                let _ = std::io::stderr().flush();
                i += 1;
                std::thread::sleep(Duration::from_millis(120));
            }
            eprint!("\r{:30}\r", "");
        });
        Spinner {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

/// A running spinner; stops (and erases itself) when dropped.
pub struct Spinner {
    stop: Option<Arc<AtomicBool>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(stop) = &self.stop {
            stop.store(true, Ordering::Relaxed);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `0.42s`, `12.3s`, `2m05s`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2}s")
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(Duration::from_millis(420)), "0.42s");
        assert_eq!(fmt_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(fmt_duration(Duration::from_secs(125)), "2m05s");
    }

    #[test]
    fn stages_are_timed() {
        let mut p = Progress::new(2, true);
        p.stage("a", "");
        p.stage("b", "x");
        p.done();
        assert_eq!(
            p.timings.iter().map(|t| t.0).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
    }
}
