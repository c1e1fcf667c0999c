//! Exit codes and the errors that end a command early.

use std::process::ExitCode;

/// 0: clean. 1: findings, failed checks, budget exceeded. 2: usage or I/O error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Ok,
    Findings,
    Usage,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::Findings => 1,
            Exit::Usage => 2,
        })
    }
}

/// An error that stops a command: bad arguments or input/output failure (exit 2).
#[derive(Debug)]
pub struct CliError {
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
        }
    }

    pub fn io(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        CliError {
            message: format!("{}: {err}", context.into()),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::io("I/O error", e)
    }
}
