//! Helpers for tests that drive real peer processes (brokers, other clients): a bounded
//! `run`, and a free loopback port.

use core::time::Duration;
use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

/// Runs a command to completion, at most `timeout`; returns its stdout. A command still
/// running at the deadline is killed (by its PID) and reported as an error, as is a non-zero
/// exit (with its stdout and stderr).
///
/// # Errors
/// The command could not start, failed, or timed out.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<String, String> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    // Readers hand the output over a channel, so a grandchild that keeps a pipe open cannot
    // block us past the deadline.
    let (tx, rx) = mpsc::channel::<(bool, String)>();
    for (is_stdout, pipe) in [
        (
            true,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            false,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            let _ = tx.send((is_stdout, s));
        });
    }
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    for _ in 0..2 {
        match rx.recv_timeout(Duration::from_secs(2)) {
            Ok((true, s)) => stdout = s,
            Ok((false, s)) => stderr = s,
            Err(_) => break,
        }
    }
    match status {
        Some(s) if s.success() => Ok(stdout),
        Some(s) => Err(format!("{what} exited with {s}:\n{stdout}{stderr}")),
        None => Err(format!(
            "{what} timed out after {timeout:?}:\n{stdout}{stderr}"
        )),
    }
}

/// An unused loopback port (bound and released; the caller's server binds it right after).
///
/// # Panics
/// When no loopback port can be bound at all (the test machine is broken).
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}
