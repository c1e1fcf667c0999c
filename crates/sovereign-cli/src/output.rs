//! Where text goes: results on standard output, progress and errors on standard error.
//! A closed pipe (`sovereign plan | head`) ends output quietly instead of panicking.

use std::io::{IsTerminal, Write};

use crate::{ColorChoice, GlobalArgs};

pub struct Output {
    pub color_stdout: bool,
    pub color_stderr: bool,
    pub quiet: bool,
    /// Columns tables must fit in; `None`: no limit.
    pub width: Option<usize>,
    /// Standard error is a terminal: progress may animate there.
    pub stderr_tty: bool,
}

impl Output {
    pub fn new(global: &GlobalArgs) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |tty: bool| match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        let stdout_tty = std::io::stdout().is_terminal();
        Output {
            color_stdout: decide(stdout_tty),
            color_stderr: decide(std::io::stderr().is_terminal()),
            quiet: global.quiet,
            width: table_width(global.wide, global.width, stdout_tty),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// A spinner on standard error while something long runs: animated on a terminal, absent
    /// when standard error is piped or with `--quiet`. It disappears when dropped.
    pub fn spinner(&self, message: &str) -> Spinner {
        let bar = if self.stderr_tty && !self.quiet {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(100));
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_message(message.to_string());
        Spinner { bar }
    }

    /// Progress of a long operation reported line by line: on a terminal each line becomes the
    /// spinner's message and stays printed above it; piped, the lines are written plainly (no
    /// animation, no control characters); nothing with `--quiet`.
    pub fn progress(&self, message: &str) -> Progress<'_> {
        Progress {
            spinner: self.spinner(message),
            out: self,
        }
    }

    /// Writes a result to standard output.
    pub fn print(&self, text: &str) {
        write_quietly(&mut std::io::stdout().lock(), text);
    }

    /// Writes a line to standard error unless `--quiet`.
    pub fn status(&self, text: &str) {
        if !self.quiet {
            write_quietly(&mut std::io::stderr().lock(), &format!("{text}\n"));
        }
    }

    /// Writes an error line to standard error, always.
    pub fn error(&self, message: &str) {
        let prefix = if self.color_stderr {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        write_quietly(
            &mut std::io::stderr().lock(),
            &format!("{prefix}: {message}\n"),
        );
    }

    /// Writes text to standard error (findings printed by commands whose result is elsewhere).
    pub fn eprint(&self, text: &str) {
        write_quietly(&mut std::io::stderr().lock(), text);
    }
}

/// The width tables fit in: `--wide` none, `--width N` N, else the terminal's width when standard
/// output is a terminal, else none, so piped output never depends on who ran it.
pub fn table_width(wide: bool, width: Option<u16>, stdout_tty: bool) -> Option<usize> {
    if wide {
        return None;
    }
    if let Some(w) = width {
        return Some(usize::from(w));
    }
    if !stdout_tty {
        return None;
    }
    terminal_size::terminal_size_of(std::io::stdout())
        .map(|(w, _)| usize::from(w.0))
        .filter(|w| *w >= 40)
}

/// See [`Output::spinner`].
pub struct Spinner {
    bar: indicatif::ProgressBar,
}

impl Spinner {
    pub fn set_message(&self, message: &str) {
        self.bar.set_message(message.to_string());
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// See [`Output::progress`].
pub struct Progress<'a> {
    spinner: Spinner,
    out: &'a Output,
}

impl Progress<'_> {
    /// Clears the spinner, before results are printed.
    pub fn finish(&self) {
        self.spinner.bar.finish_and_clear();
    }

    pub fn line(&self, text: &str) {
        if self.out.quiet {
            return;
        }
        if self.spinner.bar.is_hidden() {
            self.out.status(text);
        } else {
            self.spinner.bar.println(text);
            self.spinner.set_message(text);
        }
    }
}

fn write_quietly(w: &mut dyn Write, text: &str) {
    // A broken pipe means the reader has gone; nothing useful is left to do with the output.
    let _ = w.write_all(text.as_bytes()).and_then(|_| w.flush());
}
