//! The model broker on a real loopback socket, for adapter tests: [`TcpBroker`].
//!
//! One thread owns the [`ModelBroker`] and drives it with wall-clock milliseconds; an accept
//! thread and one reader thread per connection forward frames to it over a channel. Listens on
//! `127.0.0.1` only, on an ephemeral port that the broker also advertises in Metadata and
//! FindCoordinator, and stops when [`TcpBroker::stop`] is called or the handle is dropped.

use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use core::time::Duration;
use std::collections::BTreeMap;

use kafka_wire::FrameDecoder;

use crate::{BrokerConfig, ConnId, ModelBroker};

enum Msg {
    Accepted(ConnId, TcpStream),
    Frame(ConnId, bytes::Bytes),
    Gone(ConnId),
}

/// A running loopback broker. See the [module docs](self).
#[derive(Debug)]
pub struct TcpBroker {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<ModelBroker>>,
}

impl TcpBroker {
    /// Starts a model broker with `config` (its host and port are replaced by the listener's)
    /// and these topics.
    ///
    /// # Errors
    /// Binding or configuring the listener.
    pub fn start(mut config: BrokerConfig, topics: &[(&str, i32)]) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        config.host = "127.0.0.1".to_owned();
        config.port = i32::from(addr.port());
        let mut broker = ModelBroker::new(config);
        for (t, n) in topics {
            broker.create_topic(t, *n);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Msg>();
        {
            let stop = Arc::clone(&stop);
            let tx = tx.clone();
            thread::spawn(move || accept_loop(&listener, &stop, &tx));
        }
        let stop2 = Arc::clone(&stop);
        let server = thread::spawn(move || {
            let start = Instant::now();
            let now = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            let mut sockets: BTreeMap<ConnId, TcpStream> = BTreeMap::new();
            while !stop2.load(Ordering::Relaxed) {
                let wait = broker
                    .poll_timeout()
                    .map_or(20, |t| t.saturating_sub(now()))
                    .clamp(1, 20);
                match rx.recv_timeout(Duration::from_millis(wait)) {
                    Ok(Msg::Accepted(conn, stream)) => {
                        if let Ok(reader) = stream.try_clone() {
                            let tx = tx.clone();
                            thread::spawn(move || read_loop(conn, reader, &tx));
                            sockets.insert(conn, stream);
                        }
                    }
                    Ok(Msg::Frame(conn, frame)) => broker.handle_frame(now(), conn, frame),
                    Ok(Msg::Gone(conn)) => {
                        sockets.remove(&conn);
                        broker.disconnect(conn);
                    }
                    Err(RecvTimeoutError::Timeout) => broker.handle_timeout(now()),
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                while let Some((conn, frame)) = broker.poll_output() {
                    if let Some(s) = sockets.get_mut(&conn) {
                        // The model's frames have no size prefix; the wire needs one.
                        let size = u32::try_from(frame.len()).unwrap_or(u32::MAX);
                        let mut bytes = Vec::with_capacity(4 + frame.len());
                        bytes.extend_from_slice(&size.to_be_bytes());
                        bytes.extend_from_slice(&frame);
                        if s.write_all(&bytes).is_err() {
                            let _ = s.shutdown(Shutdown::Both);
                        }
                    }
                }
                while let Some(conn) = broker.poll_closed() {
                    if let Some(s) = sockets.remove(&conn) {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                }
            }
            for (_, s) in sockets {
                let _ = s.shutdown(Shutdown::Both);
            }
            broker
        });
        Ok(Self {
            addr,
            stop,
            server: Some(server),
        })
    }

    /// The address clients connect to.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the broker and returns it, for inspection (`None` if its thread panicked).
    #[must_use]
    pub fn stop(mut self) -> Option<ModelBroker> {
        self.stop.store(true, Ordering::Relaxed);
        self.server.take().and_then(|h| h.join().ok())
    }
}

impl Drop for TcpBroker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, tx: &Sender<Msg>) {
    let mut next: ConnId = 1;
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                if tx.send(Msg::Accepted(next, stream)).is_err() {
                    return;
                }
                next += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return,
        }
    }
}

fn read_loop(conn: ConnId, mut stream: TcpStream, tx: &Sender<Msg>) {
    let mut frames = FrameDecoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if frames.push(&buf[..n]).is_err() {
            break;
        }
        while let Ok(Some(frame)) = frames.next_frame() {
            if tx.send(Msg::Frame(conn, frame)).is_err() {
                return;
            }
        }
    }
    let _ = tx.send(Msg::Gone(conn));
}
