//! An async adapter for the [`kafka_client`] sans-IO consumer, over tokio.
//!
//! [`Driver`] owns the [`Consumer`] and its sockets: it opens the connections the core asks
//! for, writes the bytes it produces, hands it the bytes that arrive and wakes it at its
//! deadlines with one reusable timer. Each socket's read half runs in its own task and forwards
//! what it reads into one channel; the task that awaits [`Driver::next_event`] owns the core
//! and every write half, so the core has one owner and needs no lock.
//!
//! ```no_run
//! # async fn run() {
//! use group_fsm::assignor::RangeAssignor;
//! use kafka_client::net::NetConfig;
//! use kafka_client::{Consumer, ConsumerConfig, ConsumerEvent};
//! use kafka_tokio::Driver;
//! use std::time::Duration;
//!
//! let config = ConsumerConfig {
//!     net: NetConfig::new(vec![("127.0.0.1".into(), 9092)]),
//!     group: group_fsm::Config::new("my-group"),
//!     topics: vec!["orders".into()],
//!     fetch: Default::default(),
//! };
//! let mut driver = Driver::new(|now| Consumer::new(config, vec![Box::new(RangeAssignor)], now));
//! let stop = tokio::time::Instant::now() + Duration::from_secs(30);
//! while let Some(event) = driver.next_event(Some(stop)).await {
//!     if let ConsumerEvent::Assigned { partitions, .. } = &event {
//!         println!("assigned {partitions:?}");
//!     }
//! }
//! driver.close(Duration::from_secs(5)).await;
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::time::Duration;
use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use kafka_client::net::{ConnId, Io, IoEvent};
use kafka_client::{Consumer, Core};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

/// How long a connect attempt may take (the core usually closes the connection first).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer per socket.
const READ_CHUNK: usize = 64 * 1024;

enum Msg {
    Connected(ConnId, TcpStream),
    Io(IoEvent),
}

/// The async driver of a [`Consumer`] (the default) or a
/// [`GroupSet`](kafka_client::GroupSet). See the [crate docs](crate).
pub struct Driver<C: Core = Consumer> {
    consumer: C,
    start: Instant,
    writers: HashMap<ConnId, OwnedWriteHalf>,
    readers: HashMap<ConnId, tokio::task::JoinHandle<()>>,
    /// Connections the core still wants (a connect that finishes after a close is dropped).
    wanted: HashSet<ConnId>,
    tx: UnboundedSender<Msg>,
    rx: UnboundedReceiver<Msg>,
}

impl<C: Core + core::fmt::Debug> core::fmt::Debug for Driver<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("consumer", &self.consumer)
            .field("sockets", &self.writers.len())
            .finish_non_exhaustive()
    }
}

impl<C: Core> Driver<C> {
    /// A driver for the consumer `make` builds (it gets the core's clock origin, zero).
    /// Must be called inside a tokio runtime.
    pub fn new(make: impl FnOnce(group_fsm::Instant) -> C) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            consumer: make(group_fsm::Instant::ZERO),
            start: Instant::now(),
            writers: HashMap::new(),
            readers: HashMap::new(),
            wanted: HashSet::new(),
            tx,
            rx,
        }
    }

    /// The core's current time.
    #[must_use]
    pub fn now(&self) -> group_fsm::Instant {
        let ms = self.start.elapsed().as_millis();
        group_fsm::Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// The consumer (read-only).
    #[must_use]
    pub const fn consumer(&self) -> &C {
        &self.consumer
    }

    /// Runs `f` on the consumer at the current time (commit, poll, …), then executes its IO.
    pub async fn with_consumer<T>(&mut self, f: impl FnOnce(&mut C, group_fsm::Instant) -> T) -> T {
        let now = self.now();
        let out = f(&mut self.consumer, now);
        self.flush_io().await;
        out
    }

    /// Drives the consumer until it has an event (returned), it has stopped, or `deadline`
    /// passes (both `None`).
    pub async fn next_event(&mut self, deadline: Option<Instant>) -> Option<C::Event> {
        let sleep = tokio::time::sleep_until(Instant::now());
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        loop {
            self.flush_io().await;
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
            if until <= wall {
                let now = self.now();
                self.consumer.handle_timeout(now);
                continue;
            }
            // One timer, reset only when the deadline moves.
            if armed != Some(until) {
                sleep.as_mut().reset(until);
                armed = Some(until);
            }
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(msg) => self.on_msg(msg),
                    None => return None,
                },
                () = &mut sleep => {
                    armed = None;
                    let now = self.now();
                    self.consumer.handle_timeout(now);
                }
            }
        }
    }

    /// Leaves the group ([`Consumer::close`]) and drives it for at most `grace` (LeaveGroup and
    /// the final commit), then drops every socket. Returns whether it closed cleanly. The
    /// events of the way out (revocations, the final commit, `Closed`) are dropped; use
    /// [`Driver::close_with`] to see them.
    pub async fn close(&mut self, grace: Duration) -> bool {
        self.close_with(grace, |_| {}).await
    }

    /// [`Driver::close`], handing every event of the way out (the revocation of the owned
    /// partitions, the final commit, [`ConsumerEvent::Closed`](kafka_client::ConsumerEvent))
    /// to `on_event` in order.
    pub async fn close_with(
        &mut self,
        grace: Duration,
        mut on_event: impl FnMut(C::Event),
    ) -> bool {
        let now = self.now();
        self.consumer.close(now);
        let stop = Instant::now() + grace;
        while !self.consumer.is_closed() {
            match self.next_event(Some(stop)).await {
                Some(event) => on_event(event),
                None if Instant::now() >= stop => break,
                None => {}
            }
        }
        // Events queued together with the last one (e.g. the final Committed and Closed).
        while let Some(event) = self.consumer.poll_event() {
            on_event(event);
        }
        self.flush_io().await;
        for (_, mut w) in self.writers.drain() {
            let _ = w.shutdown().await;
        }
        for (_, r) in self.readers.drain() {
            r.abort();
        }
        self.consumer.is_closed()
    }

    fn on_msg(&mut self, msg: Msg) {
        let now = self.now();
        match msg {
            Msg::Connected(conn, stream) => {
                if !self.wanted.contains(&conn) {
                    return;
                }
                let (read, write) = stream.into_split();
                let reader = tokio::spawn(read_loop(conn, read, self.tx.clone()));
                self.readers.insert(conn, reader);
                self.writers.insert(conn, write);
                self.consumer.handle_io(now, IoEvent::Connected(conn));
            }
            Msg::Io(ev) => {
                let conn = match &ev {
                    IoEvent::Connected(c) | IoEvent::Received(c, _) | IoEvent::Closed(c) => *c,
                };
                if self.wanted.contains(&conn) {
                    if matches!(ev, IoEvent::Closed(_)) {
                        self.drop_socket(conn);
                    }
                    self.consumer.handle_io(now, ev);
                }
            }
        }
    }

    /// Executes every pending [`Io`].
    async fn flush_io(&mut self) {
        while let Some(io) = self.consumer.poll_io() {
            match io {
                Io::Connect { conn, host, port } => {
                    self.wanted.insert(conn);
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        let connect = TcpStream::connect((host.as_str(), port));
                        let msg = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                            Ok(Ok(s)) => {
                                let _ = s.set_nodelay(true);
                                Msg::Connected(conn, s)
                            }
                            _ => Msg::Io(IoEvent::Closed(conn)),
                        };
                        let _ = tx.send(msg);
                    });
                }
                Io::Write { conn, bytes } => {
                    let ok = match self.writers.get_mut(&conn) {
                        Some(w) => w.write_all(&bytes).await.is_ok(),
                        None => false,
                    };
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
        // Dropping both halves closes the socket.
        self.writers.remove(&conn);
        if let Some(r) = self.readers.remove(&conn) {
            r.abort();
        }
    }
}

async fn read_loop(conn: ConnId, mut read: OwnedReadHalf, tx: UnboundedSender<Msg>) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match read.read(&mut buf).await {
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
}
