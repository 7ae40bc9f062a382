//! The error type shared by every subcommand, and its exit codes.

use core::fmt;
use std::io;

/// Why a subcommand failed; decides the exit code.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Malformed or unexpected input, an unreadable file, or a bad argument (exit code 2).
    Input(String),
    /// A check requested on the command line failed, e.g. a round-trip mismatch (exit code 1).
    Check(String),
    /// Standard output was closed before we finished writing (exit code 141, no message).
    BrokenPipe,
    /// A consumer hit a fatal error (exit code 1).
    Fatal(String),
}

impl CliError {
    /// Builds an [`CliError::Input`] error.
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self::Input(message.into())
    }

    /// Builds a [`CliError::Check`] error.
    pub(crate) fn check(message: impl Into<String>) -> Self {
        Self::Check(message.into())
    }

    /// Converts a failure to write standard output.
    pub(crate) fn from_stdout(e: &io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Self::BrokenPipe
        } else {
            Self::Input(format!("cannot write to standard output: {e}"))
        }
    }

    /// The process exit code for this error.
    pub(crate) const fn exit_code(&self) -> u8 {
        match self {
            Self::Check(_) | Self::Fatal(_) => 1,
            Self::Input(_) => 2,
            Self::BrokenPipe => 141,
        }
    }

    /// The message to print on standard error, if any.
    pub(crate) fn message(&self) -> Option<&str> {
        match self {
            Self::Input(m) | Self::Check(m) | Self::Fatal(m) => Some(m),
            Self::BrokenPipe => None,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message().unwrap_or("standard output closed"))
    }
}
