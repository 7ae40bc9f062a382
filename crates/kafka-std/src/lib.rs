//! A blocking adapter for the [`kafka_client`] sans-IO consumer, over `std::net`.
//!
//! [`Driver`] owns the [`Consumer`] and its sockets. It does only what an adapter must: open
//! the connections the core asks for, write the bytes it produces, hand it the bytes that
//! arrive, and wake it at its deadlines. Each socket has a reader thread that forwards what it
//! reads into one channel; the thread that calls [`Driver::next_event`] owns the core and does
//! every write, so the core has one owner and needs no lock.
//!
//! ```no_run
//! use group_fsm::assignor::RangeAssignor;
//! use kafka_client::net::NetConfig;
//! use kafka_client::{Consumer, ConsumerConfig, ConsumerEvent};
//! use kafka_std::Driver;
//! use std::time::{Duration, Instant};
//!
//! let config = ConsumerConfig {
//!     net: NetConfig::new(vec![("127.0.0.1".into(), 9092)]),
//!     group: group_fsm::Config::new("my-group"),
//!     topics: vec!["orders".into()],
//!     fetch: Default::default(),
//! };
//! let mut driver = Driver::new(|now| Consumer::new(config, vec![Box::new(RangeAssignor)], now));
//! let stop = Instant::now() + Duration::from_secs(30);
//! while let Some(event) = driver.next_event(Some(stop)) {
//!     if let ConsumerEvent::Assigned { partitions, .. } = &event {
//!         println!("assigned {partitions:?}");
//!     }
//! }
//! driver.close(Duration::from_secs(5));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::time::Duration;
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::Instant;

use bytes::Bytes;
use kafka_client::net::{ConnId, Io, IoEvent};
use kafka_client::{Consumer, Core};

/// How long a connect attempt may take before it counts as failed (the core has its own,
/// usually shorter, deadline and closes the connection first).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer per socket.
const READ_CHUNK: usize = 64 * 1024;

enum Msg {
    Connected(ConnId, TcpStream),
    Io(IoEvent),
}

/// The blocking driver of a [`Consumer`] (the default) or a
/// [`GroupSet`](kafka_client::GroupSet). See the [crate docs](crate).
pub struct Driver<C: Core = Consumer> {
    consumer: C,
    start: Instant,
    sockets: HashMap<ConnId, TcpStream>,
    /// Connections the core still wants (a connect that finishes after a close is dropped).
    wanted: HashSet<ConnId>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
}

impl<C: Core + core::fmt::Debug> core::fmt::Debug for Driver<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("consumer", &self.consumer)
            .field("sockets", &self.sockets.len())
            .finish_non_exhaustive()
    }
}

impl<C: Core> Driver<C> {
    /// A driver for the consumer (or group set) `make` builds (it gets the core's clock
    /// origin, zero).
    pub fn new(make: impl FnOnce(group_fsm::Instant) -> C) -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            consumer: make(group_fsm::Instant::ZERO),
            start: Instant::now(),
            sockets: HashMap::new(),
            wanted: HashSet::new(),
            tx,
            rx,
        }
    }

    /// The core's current time.
    #[must_use]
    pub fn now(&self) -> group_fsm::Instant {
        to_core(self.start.elapsed())
    }

    /// The consumer or group set (read-only).
    #[must_use]
    pub const fn consumer(&self) -> &C {
        &self.consumer
    }

    /// Runs `f` on the consumer at the current time (commit, poll, …), then executes its IO.
    pub fn with_consumer<T>(&mut self, f: impl FnOnce(&mut C, group_fsm::Instant) -> T) -> T {
        let now = self.now();
        let out = f(&mut self.consumer, now);
        self.flush_io();
        out
    }

    /// Drives the consumer until it has an event (returned), it has stopped, or `deadline`
    /// passes (both `None`).
    pub fn next_event(&mut self, deadline: Option<Instant>) -> Option<C::Event> {
        loop {
            self.flush_io();
            if let Some(e) = self.consumer.poll_event() {
                let now = self.now();
                self.consumer.poll(now);
                return Some(e);
            }
            if self.consumer.is_closed() {
                return None;
            }
            let wall = Instant::now();
            if deadline.is_some_and(|d| d <= wall) {
                return None;
            }
            let wake = self
                .consumer
                .poll_timeout()
                .map(|t| self.start + Duration::from_millis(t.as_millis()));
            let until = match (wake, deadline) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(wall + Duration::from_secs(1)),
            };
            let wait = until
                .saturating_duration_since(wall)
                .max(Duration::from_millis(1));
            match self.rx.recv_timeout(wait) {
                Ok(msg) => self.on_msg(msg),
                Err(RecvTimeoutError::Timeout) => {
                    let now = self.now();
                    self.consumer.handle_timeout(now);
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Leaves the group ([`Consumer::close`]; every group of a set) and drives it for at most `grace` (LeaveGroup and
    /// the final commit), then drops every socket. Returns whether it closed cleanly. The
    /// events of the way out (revocations, the final commit, `Closed`) are dropped; use
    /// [`Driver::close_with`] to see them.
    pub fn close(&mut self, grace: Duration) -> bool {
        self.close_with(grace, |_| {})
    }

    /// [`Driver::close`], handing every event of the way out (the revocation of the owned
    /// partitions, the final commit, [`ConsumerEvent::Closed`](kafka_client::ConsumerEvent))
    /// to `on_event` in order.
    pub fn close_with(&mut self, grace: Duration, mut on_event: impl FnMut(C::Event)) -> bool {
        let now = self.now();
        self.consumer.close(now);
        let stop = Instant::now() + grace;
        while !self.consumer.is_closed() {
            match self.next_event(Some(stop)) {
                Some(event) => on_event(event),
                None if Instant::now() >= stop => break,
                None => {}
            }
        }
        // Events queued together with the last one (e.g. the final Committed and Closed).
        while let Some(event) = self.consumer.poll_event() {
            on_event(event);
        }
        self.flush_io();
        for (_, s) in self.sockets.drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.consumer.is_closed()
    }

    fn on_msg(&mut self, msg: Msg) {
        let now = self.now();
        match msg {
            Msg::Connected(conn, stream) => {
                if !self.wanted.contains(&conn) {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
                match stream.try_clone() {
                    Ok(reader) => {
                        spawn_reader(conn, reader, self.tx.clone());
                        self.sockets.insert(conn, stream);
                        self.consumer.handle_io(now, IoEvent::Connected(conn));
                    }
                    Err(_) => self.consumer.handle_io(now, IoEvent::Closed(conn)),
                }
            }
            Msg::Io(ev) => {
                let conn = match &ev {
                    IoEvent::Connected(c) | IoEvent::Received(c, _) | IoEvent::Closed(c) => *c,
                };
                if self.wanted.contains(&conn) {
                    if matches!(ev, IoEvent::Closed(_)) {
                        self.sockets.remove(&conn);
                        self.wanted.remove(&conn);
                    }
                    self.consumer.handle_io(now, ev);
                }
            }
        }
    }

    /// Executes every pending [`Io`].
    fn flush_io(&mut self) {
        while let Some(io) = self.consumer.poll_io() {
            match io {
                Io::Connect { conn, host, port } => {
                    self.wanted.insert(conn);
                    spawn_connect(conn, host, port, self.tx.clone());
                }
                Io::Write { conn, bytes } => {
                    let ok = self
                        .sockets
                        .get_mut(&conn)
                        .is_some_and(|s| s.write_all(&bytes).is_ok());
                    if !ok {
                        self.drop_socket(conn);
                        let now = self.now();
                        self.consumer.handle_io(now, IoEvent::Closed(conn));
                    }
                }
                Io::Close { conn } => self.drop_socket(conn),
            }
        }
    }

    fn drop_socket(&mut self, conn: ConnId) {
        self.wanted.remove(&conn);
        if let Some(s) = self.sockets.remove(&conn) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Milliseconds since the driver started, as the core's clock.
fn to_core(d: Duration) -> group_fsm::Instant {
    group_fsm::Instant::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn spawn_connect(conn: ConnId, host: String, port: u16, tx: Sender<Msg>) {
    thread::spawn(move || {
        let stream = (host.as_str(), port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| {
                addrs.find_map(|a| TcpStream::connect_timeout(&a, CONNECT_TIMEOUT).ok())
            });
        let msg = match stream {
            Some(s) => {
                let _ = s.set_nodelay(true);
                Msg::Connected(conn, s)
            }
            None => Msg::Io(IoEvent::Closed(conn)),
        };
        let _ = tx.send(msg);
    });
}

fn spawn_reader(conn: ConnId, mut stream: TcpStream, tx: Sender<Msg>) {
    thread::spawn(move || {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            match stream.read(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(0) | Err(_) => {
                    let _ = tx.send(Msg::Io(IoEvent::Closed(conn)));
                    return;
                }
                Ok(n) => {
                    let chunk = Bytes::copy_from_slice(&buf[..n]);
                    if tx.send(Msg::Io(IoEvent::Received(conn, chunk))).is_err() {
                        return;
                    }
                }
            }
        }
    });
}
