//! Where text goes: results on standard output, progress and errors on standard error.
//! A closed pipe (`sovereign plan | head`) ends output quietly instead of panicking.

use std::io::{IsTerminal, Write};

use crate::{ColorChoice, GlobalArgs};

pub struct Output {
    pub color_stdout: bool,
    pub color_stderr: bool,
    pub quiet: bool,
}

impl Output {
    pub fn new(global: &GlobalArgs) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |tty: bool| match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        Output {
            color_stdout: decide(std::io::stdout().is_terminal()),
            color_stderr: decide(std::io::stderr().is_terminal()),
            quiet: global.quiet,
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

fn write_quietly(w: &mut dyn Write, text: &str) {
    // A broken pipe means the reader has gone; nothing useful is left to do with the output.
    let _ = w.write_all(text.as_bytes()).and_then(|_| w.flush());
}
