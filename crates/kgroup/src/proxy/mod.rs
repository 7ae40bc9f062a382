//! `kgroup proxy`: a logging, address-rewriting TCP proxy for Kafka traffic.
//!
//! Every accepted client connection gets its own connection to the broker its listener stands
//! for; two threads pump the bytes, one per direction (see the `relay` module for what each
//! direction does to the bytes). Broker addresses in Metadata and FindCoordinator responses
//! are replaced by proxy addresses: the `--upstream` broker is served on `--listen`, every
//! other broker gets its own listener on the listen host, opened the first time the broker is
//! seen and kept until the proxy stops.
//!
//! Every loop polls a stop flag: sockets have 100 ms read and write timeouts and listeners
//! are non-blocking, so `--seconds` (or a closed standard output) ends everything promptly.

mod relay;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use kafka_wire::frame::DEFAULT_MAX_FRAME;
use serde_json::json;

use self::relay::{Fed, Half, HostPort};
use crate::decode::{Direction, Pending};
use crate::error::CliError;

/// Long help of `kgroup proxy`.
pub(crate) const LONG_ABOUT: &str = "\
Forward Kafka traffic between clients and a broker, printing every request and response as \
one JSON line.

Each client connection accepted on --listen gets its own connection to --upstream; bytes flow \
both ways. The traffic is split into frames and decoded as `kgroup decode` does; a response is \
matched to its request by correlation id.

Address rewriting: in Metadata responses (every broker) and FindCoordinator responses \
(Host/Port, and every entry of Coordinators from v4), each broker address is replaced by a \
proxy address, so that every connection of the client goes through the proxy. The --upstream \
broker (under any name that resolves to the same address and port) is served on --listen; \
every other broker gets its own listener on the --listen host, on an ephemeral port allocated \
when the broker is first seen and kept until the proxy stops. The --listen host is the host \
written into the responses. A rewritten response is re-encoded at the same version, with its \
unknown tagged fields and any trailing bytes; all other bytes are forwarded unchanged.

Output lines (standard output):
  {\"event\":\"listening\",\"listen\":\"HOST:PORT\",\"upstream\":\"HOST:PORT\"} first;
  {\"event\":\"listener\",\"listen\":...,\"broker\":...} for each extra listener;
  {\"conn\":N,\"event\":\"open\",\"client\":...,\"listen\":...,\"broker\":...} per connection, \
then one line per frame, then {\"conn\":N,\"event\":\"close\",\"c2s_bytes\":..,\"s2c_bytes\":..};
  a frame line is the `kgroup decode` object (direction, frame, offset, api_key, api_name, \
api_version, correlation_id, client_id, header_version, body, ...) plus \"conn\", \"broker\" \
(where the connection goes) and, for a rewritten response, \"rewrites\": [{\"from\",\"to\"}]; \
its body, frame and offset are those the receiver got;
  a frame that does not decode gives {\"conn\",\"broker\",\"direction\",\"frame\",\"offset\", \
(api_key, api_name, api_version, correlation_id when known), \"error\":{\"message\",\"field\", \
\"offset\"},\"forwarded\":\"unchanged\"} and its bytes are forwarded as they came. A size \
prefix that is negative or above --max-frame-bytes ends the parsing of that direction; its \
bytes are still forwarded;
  {\"event\":\"stopped\",\"connections\":N} last.

--out DIR writes the bytes of connection N as DIR/conn-N.c2s.bin (client to broker) and \
DIR/conn-N.s2c.bin (broker to client, as the client received them: after rewriting), the \
format `kgroup decode --requests ... --responses ...` reads.

Runs until killed, or for --seconds N. Exit codes: 0 success (stopped after --seconds); 2 bad \
usage, an address that cannot be listened on or resolved, or an --out directory that cannot \
be created; 141 standard output closed.";

/// Examples shown after `kgroup proxy --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  # Start a broker, proxy it, record every connection, and point clients at port 9093:
  scripts/peers/tansu.sh start 19092
  kgroup proxy --listen 127.0.0.1:9093 --upstream 127.0.0.1:19092 --out /tmp/cap --seconds 60

  # Then decode one recorded connection:
  kgroup decode --requests /tmp/cap/conn-1.c2s.bin --responses /tmp/cap/conn-1.s2c.bin

  # Only the rewritten responses:
  kgroup proxy --listen 127.0.0.1:9093 --upstream 127.0.0.1:19092 | jq -c 'select(.rewrites)'";

/// How long a blocked read, write or accept waits before the stop flag is checked again.
const POLL: Duration = Duration::from_millis(100);
/// How long connecting to a broker may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most listeners for brokers other than `--upstream`.
const MAX_EXTRA_LISTENERS: usize = 256;
/// Most client connections served at once; more are closed right after accepting.
const MAX_CONNECTIONS: usize = 1024;
/// Read buffer size per direction.
const READ_BUFFER: usize = 64 * 1024;

/// Arguments of `kgroup proxy`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProxyArgs {
    /// Address to accept clients on (port 0: any free port, printed on the first line); its
    /// host is also written into rewritten broker addresses.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    listen: HostPort,

    /// The broker to forward to.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    upstream: HostPort,

    /// Directory for the raw bytes of each connection (conn-N.c2s.bin, conn-N.s2c.bin).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Stop after this many seconds (default: run until killed).
    #[arg(long, value_name = "N")]
    seconds: Option<u64>,

    /// Largest frame body parsed; a larger size prefix ends parsing of that direction.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME)]
    max_frame_bytes: usize,
}

/// Parses `HOST:PORT` (`[V6]:PORT` for IPv6 addresses).
fn parse_host_port(s: &str) -> Result<HostPort, String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("expected HOST:PORT, got {s:?}"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(format!("missing host in {s:?}"));
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("port must be 0..=65535, got {port:?}"))?;
    Ok(HostPort::new(host, port))
}

/// Runs `kgroup proxy`.
///
/// # Errors
/// [`CliError::Input`] if an address cannot be listened on or resolved or the output
/// directory cannot be created; [`CliError::BrokenPipe`] when standard output closes.
pub(crate) fn run(args: &ProxyArgs) -> Result<(), CliError> {
    if args.upstream.port == 0 {
        return Err(CliError::input("--upstream needs a port other than 0"));
    }
    let upstream_ips = resolve(&args.upstream).map_err(|e| {
        CliError::input(format!("cannot resolve --upstream {}: {e}", args.upstream))
    })?;
    if let Some(dir) = &args.out {
        fs::create_dir_all(dir)
            .map_err(|e| CliError::input(format!("cannot create --out {}: {e}", dir.display())))?;
    }
    let listener = TcpListener::bind((args.listen.host.as_str(), args.listen.port))
        .map_err(|e| CliError::input(format!("cannot listen on {}: {e}", args.listen)))?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::input(format!("cannot listen on {}: {e}", args.listen)))?
        .port();
    let listen = HostPort::new(args.listen.host.clone(), port);
    let shared = Arc::new(Shared {
        listen_host: args.listen.host.clone(),
        out: args.out.clone(),
        max_frame: args.max_frame_bytes,
        deadline: args
            .seconds
            .and_then(|s| Instant::now().checked_add(Duration::from_secs(s))),
        stop: AtomicBool::new(false),
        stdout_closed: AtomicBool::new(false),
        next_conn: AtomicU64::new(0),
        active: AtomicUsize::new(0),
        stdout: Mutex::new(io::stdout()),
        routes: Mutex::new(Routes {
            map: HashMap::new(),
            upstream: args.upstream.clone(),
            upstream_ips,
            listen: listen.clone(),
            extra: 0,
        }),
        threads: Mutex::new(Vec::new()),
    });
    shared.event(&json!({
        "event": "listening",
        "listen": listen.to_string(),
        "upstream": args.upstream.to_string(),
    }));
    let worker = Arc::clone(&shared);
    let target = args.upstream.clone();
    shared
        .spawn("listen", move || serve(&worker, &listener, &target))
        .map_err(|e| CliError::input(format!("cannot start the listener thread: {e}")))?;
    while !shared.should_stop() {
        thread::sleep(POLL);
    }
    shared.stop.store(true, Ordering::SeqCst);
    shared.join_all();
    shared.event(&json!({
        "event": "stopped",
        "connections": shared.next_conn.load(Ordering::SeqCst),
    }));
    if shared.stdout_closed.load(Ordering::SeqCst) {
        return Err(CliError::BrokenPipe);
    }
    Ok(())
}

/// The IP addresses `addr` resolves to.
fn resolve(addr: &HostPort) -> io::Result<Vec<IpAddr>> {
    let ips: Vec<IpAddr> = (addr.host.as_str(), addr.port)
        .to_socket_addrs()?
        .map(|a| a.ip())
        .collect();
    if ips.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no address"));
    }
    Ok(ips)
}

/// Locks `m`, carrying on after a panic elsewhere (the data stays usable).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Broker address → proxy address.
struct Routes {
    /// Every broker address seen, with the proxy address serving it.
    map: HashMap<HostPort, HostPort>,
    /// The `--upstream` broker.
    upstream: HostPort,
    /// What `--upstream`'s host resolved to.
    upstream_ips: Vec<IpAddr>,
    /// The `--listen` address (with the real port).
    listen: HostPort,
    /// Listeners opened for other brokers.
    extra: usize,
}

impl Routes {
    /// Whether `addr` names the `--upstream` broker: the same host and port, or an IP
    /// address (or `localhost`) that `--upstream` resolved to, with the same port. Other host
    /// names are not resolved, so that a response cannot make the proxy wait on DNS.
    fn is_upstream(&self, addr: &HostPort) -> bool {
        if addr.port != self.upstream.port {
            return false;
        }
        if addr.host.eq_ignore_ascii_case(&self.upstream.host) {
            return true;
        }
        let ips: Vec<IpAddr> = if addr.host.eq_ignore_ascii_case("localhost") {
            vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]
        } else {
            addr.host.parse().into_iter().collect()
        };
        ips.iter().any(|ip| self.upstream_ips.contains(ip))
    }

    /// Whether `addr` is one of the proxy's own addresses.
    fn is_proxy(&self, addr: &HostPort) -> bool {
        *addr == self.listen || self.map.values().any(|p| p == addr)
    }
}

/// State shared by every thread.
struct Shared {
    /// Host of `--listen`; extra listeners bind it too.
    listen_host: String,
    /// `--out`.
    out: Option<PathBuf>,
    /// `--max-frame-bytes`.
    max_frame: usize,
    /// When `--seconds` runs out.
    deadline: Option<Instant>,
    /// Set to end every loop.
    stop: AtomicBool,
    /// Standard output failed; the proxy stops.
    stdout_closed: AtomicBool,
    /// Number of the last accepted connection.
    next_conn: AtomicU64,
    /// Connections being served.
    active: AtomicUsize,
    /// Where lines go; the lock keeps each line whole.
    stdout: Mutex<io::Stdout>,
    /// The address map.
    routes: Mutex<Routes>,
    /// Listener and connection threads, joined at the end.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    /// Whether every loop should end now.
    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Prints one line; a failing standard output stops the proxy.
    fn print(&self, line: &str) {
        if self.stdout_closed.load(Ordering::SeqCst) {
            return;
        }
        let mut out = lock(&self.stdout);
        let written = out
            .write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if written.is_err() {
            self.stdout_closed.store(true, Ordering::SeqCst);
            self.stop.store(true, Ordering::SeqCst);
        }
    }

    /// Prints one JSON event line.
    fn event(&self, value: &serde_json::Value) {
        self.print(&value.to_string());
    }

    /// Prints an error event for connection `conn` (0: not about a connection).
    fn error(&self, conn: u64, message: String) {
        let mut value = json!({"event": "error", "error": {"message": message}});
        if conn > 0 {
            value["conn"] = json!(conn);
        }
        self.event(&value);
    }

    /// Starts a thread that is joined when the proxy stops.
    fn spawn(&self, name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let handle = thread::Builder::new().name(name.to_owned()).spawn(f)?;
        let mut threads = lock(&self.threads);
        threads.retain(|h| !h.is_finished());
        threads.push(handle);
        Ok(())
    }

    /// Joins every thread started with [`Shared::spawn`], including ones started meanwhile.
    fn join_all(&self) {
        loop {
            let batch = core::mem::take(&mut *lock(&self.threads));
            if batch.is_empty() {
                return;
            }
            for handle in batch {
                // A thread that panicked has nothing left to clean up.
                let _ = handle.join();
            }
        }
    }

    /// The proxy address for broker `host:port`, opening a listener on first sight; `None`
    /// leaves the address as it is (not a valid address, already a proxy address, or no
    /// listener could be opened).
    fn route(self: &Arc<Self>, host: &str, port: i32) -> Option<HostPort> {
        let port = u16::try_from(port).ok().filter(|&p| p != 0)?;
        if host.is_empty() {
            return None;
        }
        let broker = HostPort::new(host, port);
        let mut routes = lock(&self.routes);
        if let Some(to) = routes.map.get(&broker) {
            return Some(to.clone());
        }
        if routes.is_proxy(&broker) {
            return None;
        }
        if routes.is_upstream(&broker) {
            let to = routes.listen.clone();
            routes.map.insert(broker, to.clone());
            return Some(to);
        }
        if routes.extra >= MAX_EXTRA_LISTENERS || self.should_stop() {
            return None;
        }
        let opened = TcpListener::bind((self.listen_host.as_str(), 0))
            .and_then(|l| l.local_addr().map(|a| (l, a.port())));
        let (listener, proxy_port) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                drop(routes);
                self.error(
                    0,
                    format!("cannot open a listener for broker {broker}: {e}"),
                );
                return None;
            }
        };
        let to = HostPort::new(self.listen_host.clone(), proxy_port);
        routes.extra += 1;
        routes.map.insert(broker.clone(), to.clone());
        drop(routes);
        self.event(&json!({
            "event": "listener",
            "listen": to.to_string(),
            "broker": broker.to_string(),
        }));
        let worker = Arc::clone(self);
        if let Err(e) = self.spawn("listen", move || serve(&worker, &listener, &broker)) {
            self.error(0, format!("cannot start a listener thread: {e}"));
        }
        Some(to)
    }
}

/// Accepts clients on `listener` and forwards each to `target` until the proxy stops.
fn serve(shared: &Arc<Shared>, listener: &TcpListener, target: &HostPort) {
    if let Err(e) = listener.set_nonblocking(true) {
        shared.error(0, format!("cannot poll the listener for {target}: {e}"));
        return;
    }
    let listen = listener
        .local_addr()
        .map_or_else(|_| String::new(), |a| a.to_string());
    while !shared.should_stop() {
        match listener.accept() {
            Ok((client, peer)) => {
                let n = shared.next_conn.fetch_add(1, Ordering::SeqCst) + 1;
                if shared.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    shared.active.fetch_sub(1, Ordering::SeqCst);
                    shared.error(
                        n,
                        format!("more than {MAX_CONNECTIONS} connections; closed"),
                    );
                    continue;
                }
                let worker = Arc::clone(shared);
                let (target, listen) = (target.clone(), listen.clone());
                let peer = peer.to_string();
                let started = shared.spawn(&format!("conn-{n}"), move || {
                    connection(&worker, n, client, &peer, &target, &listen);
                    worker.active.fetch_sub(1, Ordering::SeqCst);
                });
                if let Err(e) = started {
                    shared.active.fetch_sub(1, Ordering::SeqCst);
                    shared.error(n, format!("cannot start a connection thread: {e}"));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL / 5),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                shared.error(0, format!("accept failed on {listen}: {e}"));
                thread::sleep(POLL);
            }
        }
    }
}

/// Connects to `target`, trying each of its addresses.
fn connect(target: &HostPort) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in (target.host.as_str(), target.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Sets the timeouts every proxied socket uses.
fn prepare(s: &TcpStream) -> io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(POLL))?;
    s.set_write_timeout(Some(POLL))?;
    s.set_nodelay(true)
}

/// Opens `DIR/conn-N.{suffix}.bin` if `--out` was given.
fn capture_file(shared: &Shared, n: u64, suffix: &str) -> Option<File> {
    let path = shared.out.as_ref()?.join(format!("conn-{n}.{suffix}.bin"));
    match File::create(&path) {
        Ok(f) => Some(f),
        Err(e) => {
            shared.error(n, format!("cannot create {}: {e}", path.display()));
            None
        }
    }
}

/// Serves client connection `n`: connects to `target` and pumps both directions.
fn connection(
    shared: &Arc<Shared>,
    n: u64,
    client: TcpStream,
    peer: &str,
    target: &HostPort,
    listen: &str,
) {
    let upstream = match prepare(&client).and_then(|()| connect(target)) {
        Ok(s) => s,
        Err(e) => {
            shared.error(n, format!("cannot connect to broker {target}: {e}"));
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    };
    let clones = prepare(&upstream).and_then(|()| Ok((client.try_clone()?, upstream.try_clone()?)));
    let (client_w, upstream_r) = match clones {
        Ok(c) => c,
        Err(e) => {
            shared.error(n, format!("cannot set up the sockets: {e}"));
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
            return;
        }
    };
    let c2s_file = capture_file(shared, n, "c2s");
    let s2c_file = capture_file(shared, n, "s2c");
    shared.event(&json!({
        "conn": n,
        "event": "open",
        "client": peer,
        "listen": listen,
        "broker": target.to_string(),
    }));
    let pending = Arc::new(Mutex::new(Pending::default()));
    let broker = target.to_string();
    let s2c = {
        let (shared, pending) = (Arc::clone(shared), Arc::clone(&pending));
        let half = Half::new(n, broker.clone(), Direction::Response, shared.max_frame);
        thread::Builder::new()
            .name(format!("conn-{n}-s2c"))
            .spawn(move || pump(&shared, half, upstream_r, client_w, s2c_file, &pending))
    };
    let s2c = match s2c {
        Ok(handle) => handle,
        Err(e) => {
            shared.error(n, format!("cannot start a thread: {e}"));
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
            return;
        }
    };
    let half = Half::new(n, broker, Direction::Request, shared.max_frame);
    let c2s_bytes = pump(shared, half, client, upstream, c2s_file, &pending);
    let s2c_bytes = s2c.join().unwrap_or(0);
    shared.event(&json!({
        "conn": n,
        "event": "close",
        "c2s_bytes": c2s_bytes,
        "s2c_bytes": s2c_bytes,
    }));
}

/// Pumps one direction from `from` to `to` until `from` ends, a socket fails or the proxy
/// stops; returns the bytes forwarded.
fn pump(
    shared: &Arc<Shared>,
    mut half: Half,
    mut from: TcpStream,
    mut to: TcpStream,
    mut file: Option<File>,
    pending: &Mutex<Pending>,
) -> u64 {
    let n = half.conn();
    let mut buf = vec![0_u8; READ_BUFFER];
    let mut fed = Fed::default();
    let mut sent = 0_u64;
    let mut route = |host: &str, port: i32| shared.route(host, port);
    loop {
        if shared.should_stop() {
            close_both(&from, &to);
            return sent;
        }
        let read = match from.read(&mut buf) {
            Ok(0) => None,
            Ok(got) => Some(got),
            Err(e) if is_retry(&e) => continue,
            Err(e) => {
                shared.error(n, format!("read failed: {e}"));
                None
            }
        };
        let Some(got) = read else {
            half.finish(&mut fed);
            let delivered = deliver(shared, n, &mut fed, &mut to, &mut file, &mut sent);
            if delivered {
                // Pass the end of stream on; the other direction carries on.
                let _ = to.shutdown(Shutdown::Write);
            } else {
                close_both(&from, &to);
            }
            return sent;
        };
        let input = buf.get(..got).unwrap_or_default();
        half.feed(input, &mut lock(pending), &mut route, &mut fed);
        if !deliver(shared, n, &mut fed, &mut to, &mut file, &mut sent) {
            close_both(&from, &to);
            return sent;
        }
    }
}

/// Prints the lines of `fed`, then writes its bytes to `to` and the capture file; `false`
/// if `to` failed (the connection is over).
fn deliver(
    shared: &Shared,
    n: u64,
    fed: &mut Fed,
    to: &mut TcpStream,
    file: &mut Option<File>,
    sent: &mut u64,
) -> bool {
    for line in &fed.lines {
        shared.print(line);
    }
    let ok = write_fully(shared, to, &fed.forward);
    if ok {
        *sent += u64::try_from(fed.forward.len()).unwrap_or(u64::MAX);
        if let Some(f) = file {
            if let Err(e) = f.write_all(&fed.forward) {
                shared.error(n, format!("cannot write a capture file: {e}"));
                *file = None;
            }
        }
    }
    fed.clear();
    ok
}

/// Writes all of `data`, retrying timeouts until the proxy stops.
fn write_fully(shared: &Shared, to: &mut TcpStream, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        match to.write(data) {
            Ok(0) => return false,
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(e) if is_retry(&e) => {
                if shared.should_stop() {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

/// Whether a socket error only means "try again" (a timeout or a signal).
fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Closes both sockets of a connection, so that the other direction's thread ends too.
fn close_both(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port() {
        assert_eq!(
            parse_host_port("127.0.0.1:9092"),
            Ok(HostPort::new("127.0.0.1", 9092))
        );
        assert_eq!(parse_host_port("[::1]:0"), Ok(HostPort::new("::1", 0)));
        assert_eq!(HostPort::new("::1", 5).to_string(), "[::1]:5");
        for bad in ["9092", ":9092", "host:", "host:65536", "host:x"] {
            assert!(parse_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn upstream_matches_by_name_or_address() {
        let routes = Routes {
            map: HashMap::new(),
            upstream: HostPort::new("localhost", 9092),
            upstream_ips: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            listen: HostPort::new("127.0.0.1", 7000),
            extra: 0,
        };
        assert!(routes.is_upstream(&HostPort::new("LOCALHOST", 9092)));
        assert!(routes.is_upstream(&HostPort::new("127.0.0.1", 9092)));
        assert!(!routes.is_upstream(&HostPort::new("127.0.0.1", 9093)));
        assert!(!routes.is_upstream(&HostPort::new("10.0.0.1", 9092)));
        assert!(!routes.is_upstream(&HostPort::new("example.invalid", 9092)));
        assert!(routes.is_proxy(&HostPort::new("127.0.0.1", 7000)));
    }
}
