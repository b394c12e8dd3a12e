//! `premigration-hooks-client`: the libvirt qemu hook that forwards an incoming domain XML
//! to the in-pod hook server and prints the server's answer.
//!
//! libvirt runs it (from `/etc/libvirt/hooks/qemu.d/`) at every VM start, stop and
//! migration; only `migrate begin` and `restore begin` do any work. `--probe` makes it a
//! Kubernetes exec probe of the server (`GET /healthz`), so no Node process runs per probe. The pure parts live in
//! the modules (argument routing, config, cpuset discovery, HTTP framing, the verdict);
//! this file is the thin I/O shell around them, over the C library (see `sys.rs` for why
//! the binary is `no_std`; `cargo test` builds it with std).
//!
//! Invariants:
//! - a non-XML op exits 0 at once, touching no file and no socket, except `release end`:
//!   one short notification to the server, and exit 0 whatever happens;
//! - stdout gets the new XML exactly once, after the whole reply arrived (by HTTP framing)
//!   and passed a whole-document check, or nothing;
//! - every failure is one stderr line prefixed `premigration-hooks: `, and the exit status
//!   follows the configured policy (`pass` → 0, `abort` → 1);
//! - one deadline covers connect (including waiting for a server that is still starting),
//!   write and read: libvirt itself has no hook timeout.

#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
// The I/O shell is compiled by `cargo test` too (it is exercised by its own tests below),
// but only the real entry point calls all of it.
#![cfg_attr(test, allow(dead_code))]

extern crate alloc;

mod config;
mod cpuset;
mod http;
mod outcome;
mod route;
mod sys;
mod text;
mod xmldoc;

use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_void};

use config::{Config, Policy};
use http::{Parsed, RequestFacts, Response};
use outcome::Reply;
use route::{Route, XmlOp};

#[cfg(not(test))]
#[global_allocator]
static ALLOC: sys::LibcAlloc = sys::LibcAlloc;

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Never reached by design (the parsers are panic-free, see http.rs tests); if it were,
    // a signal death is a failure libvirt reports, and no partial XML was printed.
    unsafe { sys::abort() }
}

/// Entry point called by the C runtime.
///
/// # Safety
/// `argv` holds `argc` valid C strings, as the C runtime guarantees.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let args: Vec<&[u8]> = (1..argc.max(1) as usize).map(|i| sys::c_bytes(*argv.add(i))).collect();
    run(&args)
}

fn run(args: &[&[u8]]) -> c_int {
    match route::route(args) {
        Route::Ignore => 0,
        Route::Version => {
            let mut line = b"premigration-hooks-client ".to_vec();
            line.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
            line.push(b'\n');
            let _ = write_all_fd(1, &line);
            0
        }
        Route::Filter { domain, op } => {
            // A closed stdout/stderr pipe must yield an error, not a silent SIGPIPE death.
            unsafe { sys::signal(sys::SIGPIPE, sys::SIG_IGN) };
            filter(domain, op)
        }
        Route::Release { domain } => {
            unsafe { sys::signal(sys::SIGPIPE, sys::SIG_IGN) };
            // libvirt ignores the outcome of a release hook; a line on stderr still helps
            // whoever reads the daemon's debug log. stdin (the XML) is left unread, as for
            // every other op that does not use it.
            if let Err(why) = notify_release(domain, load_config().1) {
                let _ = write_all_fd(2, &outcome::line(&why));
            }
            0
        }
        Route::Probe(p) => {
            unsafe { sys::signal(sys::SIGPIPE, sys::SIG_IGN) };
            let socket = match p.socket {
                Some(s) => s.to_vec(),
                None => config::probe_socket(load_config_text().ok().as_deref()).to_vec(),
            };
            match probe(&socket, p.timeout_ms) {
                Ok(()) => 0,
                Err(why) => {
                    let _ = write_all_fd(2, &outcome::line(&why));
                    1
                }
            }
        }
        Route::Usage { what, arg } => {
            let mut why = what.as_bytes().to_vec();
            why.extend_from_slice(b": ");
            why.extend_from_slice(arg);
            why.extend_from_slice(b" (usage: premigration-hooks-client --probe [--socket PATH] [--timeout-ms N])");
            let _ = write_all_fd(2, &outcome::line(&why));
            1
        }
    }
}

/// Bound on the release notification: the domain is already gone, and libvirt waits for
/// the hook while tearing it down.
const RELEASE_TIMEOUT_MS: u64 = 1000;

/// `release end`: `POST /v1/release-end` naming the domain, within min(timeout_ms, 1 s).
fn notify_release(domain: &[u8], cfg: Result<Config, Vec<u8>>) -> Result<(), Vec<u8>> {
    let mut why = b"release-end: ".to_vec();
    let result = cfg.and_then(|cfg| exchange(&cfg.socket, &http::release_request(domain), b"", cfg.timeout_ms.min(RELEASE_TIMEOUT_MS)));
    match result {
        Ok(resp) if (200..300).contains(&resp.status) => return Ok(()),
        Ok(resp) => {
            why.extend_from_slice(b"the hook server answered HTTP ");
            text::push_u64(&mut why, u64::from(resp.status));
            if let Some(msg) = http::json_error_message(&resp.body) {
                why.extend_from_slice(b": ");
                why.extend_from_slice(&msg);
            }
        }
        Err(e) => why.extend_from_slice(&e),
    }
    Err(why)
}

/// `--probe`: `GET /healthz` within `timeout_ms` (waiting for the socket too, but never
/// longer); `Ok` only on a 200.
fn probe(socket: &[u8], timeout_ms: u64) -> Result<(), Vec<u8>> {
    let mut why = b"probe: ".to_vec();
    match exchange(socket, &http::probe_request(), b"", timeout_ms) {
        Ok(resp) if resp.status == 200 => return Ok(()),
        Ok(resp) => {
            why.extend_from_slice(b"GET /healthz answered HTTP ");
            text::push_u64(&mut why, u64::from(resp.status));
        }
        Err(e) => why.extend_from_slice(&e),
    }
    Err(why)
}

/// The `migrate begin` / `restore begin` path.
fn filter(domain: &[u8], op: XmlOp) -> c_int {
    let (policy, cfg) = load_config();
    let result = cfg.and_then(|cfg| {
        let xml = read_stdin(cfg.max_xml_bytes)?;
        let (cpus, source) = own_cpuset()?;
        let facts = RequestFacts { domain, op: op.name(), cpuset: &cpus, cpuset_source: source.name() };
        let head = http::request_head(&facts, xml.len());
        let resp = exchange(&cfg.socket, &head, &xml, cfg.timeout_ms)?;
        outcome::interpret(resp)
    });
    match result {
        // The only write to stdout: libvirt treats whatever arrives as the new definition.
        Ok(Reply::Changed(xml)) => match write_all_fd(1, &xml) {
            Ok(()) => 0,
            // Part of the XML may be out; only a non-zero exit makes libvirt discard it.
            Err(e) => fail(&with_errno(b"cannot write the domain XML to stdout".to_vec(), e), Policy::Abort),
        },
        Ok(Reply::Unchanged) => 0,
        Err(reason) => fail(&reason, policy),
    }
}

/// Writes the one stderr line and returns the policy's exit status.
fn fail(reason: &[u8], policy: Policy) -> c_int {
    let (line, code) = outcome::failure(reason, policy);
    let _ = write_all_fd(2, &line);
    code
}

// ---- small I/O helpers over libc ----

fn cstring(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.extend_from_slice(bytes);
    v.push(0);
    v
}

/// Appends `: <strerror(errno)>`.
fn with_errno(mut why: Vec<u8>, errno: c_int) -> Vec<u8> {
    why.extend_from_slice(b": ");
    // SAFETY: strerror returns a valid C string, used before any other libc call.
    why.extend_from_slice(unsafe { sys::c_bytes(sys::strerror(errno)) });
    why
}

fn write_all_fd(fd: c_int, mut bytes: &[u8]) -> Result<(), c_int> {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length come from a live slice.
        let n = unsafe { sys::write(fd, bytes.as_ptr().cast::<c_void>(), bytes.len()) };
        if n < 0 {
            let e = sys::errno();
            if e == sys::EINTR {
                continue;
            }
            return Err(e);
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// Reads `fd` to its end into `out`, stopping once `out` holds more than `limit` bytes.
fn read_fd(fd: c_int, out: &mut Vec<u8>, limit: usize) -> Result<(), c_int> {
    let mut chunk = [0u8; 16 << 10];
    while out.len() <= limit {
        // SAFETY: reads into a live stack buffer of the given size.
        let n = unsafe { sys::read(fd, chunk.as_mut_ptr().cast::<c_void>(), chunk.len()) };
        match n {
            0 => return Ok(()),
            n if n > 0 => out.extend_from_slice(&chunk[..n as usize]),
            _ => {
                let e = sys::errno();
                if e != sys::EINTR {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// A whole small file (config, cgroup, proc); `Err(errno)` if it cannot be opened or read.
fn read_file(path: &[u8], limit: usize) -> Result<Vec<u8>, c_int> {
    let c = cstring(path);
    // SAFETY: `c` is NUL-terminated.
    let fd = unsafe { sys::open(c.as_ptr().cast::<c_char>(), sys::O_RDONLY | sys::O_CLOEXEC) };
    if fd < 0 {
        return Err(sys::errno());
    }
    let mut out = Vec::new();
    let r = read_fd(fd, &mut out, limit);
    unsafe { sys::close(fd) };
    r.map(|()| out)
}

/// Bound for the small files the client reads (config, /proc, cgroup files).
const SMALL_FILE: usize = 1 << 20;

/// The config file's path.
fn config_path() -> &'static [u8] {
    // Tests only: libvirt rebuilds the hook's environment, so production always uses the default.
    let env = cstring(config::PATH_ENV);
    // SAFETY: `env` is NUL-terminated; the environment is never changed by this program, so
    // getenv's result stays valid.
    let over = unsafe { sys::c_bytes(sys::getenv(env.as_ptr().cast::<c_char>())) };
    if over.is_empty() {
        config::DEFAULT_PATH
    } else {
        over
    }
}

/// The config file's text, or the errno that kept it from being read.
fn load_config_text() -> Result<Vec<u8>, c_int> {
    read_file(config_path(), SMALL_FILE)
}

/// The policy to apply on failure, and the config if it is usable.
fn load_config() -> (Policy, Result<Config, Vec<u8>>) {
    let path = config_path();
    let mut why = b"config ".to_vec();
    why.extend_from_slice(path);
    match load_config_text() {
        Err(e) => {
            why.extend_from_slice(b" is unreadable");
            (Policy::Pass, Err(with_errno(why, e)))
        }
        Ok(text) => {
            let (policy, cfg) = config::parse(&text);
            let cfg = cfg.map_err(|e| {
                if !e.key.is_empty() {
                    why.extend_from_slice(b": ");
                    why.extend_from_slice(e.key);
                }
                why.push(b' ');
                why.extend_from_slice(e.what.as_bytes());
                why
            });
            (policy, cfg)
        }
    }
}

/// Reads the whole domain XML, refusing more than `max` bytes.
fn read_stdin(max: u64) -> Result<Vec<u8>, Vec<u8>> {
    let max = usize::try_from(max).unwrap_or(usize::MAX - 1);
    let mut xml = Vec::with_capacity(64 << 10);
    if let Err(e) = read_fd(0, &mut xml, max) {
        return Err(with_errno(b"cannot read the domain XML from stdin".to_vec(), e));
    }
    if xml.len() > max {
        // Drain the rest so that libvirt's writer sees a normal end rather than EPIPE.
        let mut sink = Vec::new();
        while matches!(read_fd(0, &mut sink, 1 << 20), Ok(())) && !sink.is_empty() {
            sink.clear();
        }
        let mut why = b"the domain XML on stdin exceeds max_xml_bytes=".to_vec();
        text::push_u64(&mut why, max as u64);
        return Err(why);
    }
    if text::trim(&xml).is_empty() {
        return Err(b"no domain XML on stdin".to_vec());
    }
    Ok(xml)
}

/// This process's cpuset: the first readable, valid candidate of `cpuset::plan`, else
/// `Cpus_allowed_list` from /proc/self/status.
fn own_cpuset() -> Result<(Vec<u8>, cpuset::Source), Vec<u8>> {
    let read = |p: &[u8]| read_file(p, SMALL_FILE).unwrap_or_default();
    let candidates = cpuset::plan(&read(cpuset::PROC_CGROUP), &read(cpuset::PROC_MOUNTINFO));
    for (source, path) in candidates {
        if let Some(list) = cpuset::valid_list(&read(&path)) {
            return Ok((list.to_vec(), source));
        }
    }
    match cpuset::status_cpus_allowed(&read(cpuset::PROC_STATUS)) {
        Some(list) => Ok((list.to_vec(), cpuset::Source::ProcStatus)),
        None => Err(b"cannot determine this process's cpuset (cgroup v2, v1 and /proc/self/status all failed)".to_vec()),
    }
}

// ---- the exchange, under one deadline ----

fn now_ms() -> u64 {
    let mut ts = sys::Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes into a live struct.
    unsafe { sys::clock_gettime(sys::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1000 + (ts.tv_nsec as u64) / 1_000_000
}

struct Deadline(u64);

impl Deadline {
    /// Milliseconds left, or `None` once passed.
    fn left(&self) -> Option<c_int> {
        let now = now_ms();
        (now < self.0).then(|| (self.0 - now).min(c_int::MAX as u64) as c_int)
    }
}

/// A socket closed on drop.
struct Fd(c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        unsafe { sys::close(self.0) };
    }
}

enum Wait {
    Ready(i16),
    TimedOut,
}

fn wait(fd: c_int, events: i16, deadline: &Deadline) -> Result<Wait, c_int> {
    loop {
        let Some(ms) = deadline.left() else { return Ok(Wait::TimedOut) };
        let mut p = sys::PollFd { fd, events, revents: 0 };
        // SAFETY: one live pollfd.
        match unsafe { sys::poll(&mut p, 1, ms) } {
            0 => return Ok(Wait::TimedOut),
            n if n > 0 => return Ok(Wait::Ready(p.revents)),
            _ if sys::errno() == sys::EINTR => continue,
            _ => return Err(sys::errno()),
        }
    }
}

/// How a connection attempt failed.
enum ConnectFailure {
    /// A hard error: retrying cannot help.
    Failed(c_int),
    /// The deadline passed; with the errno of the last attempt if the socket was missing
    /// or refused (the server not listening yet).
    TimedOut(Option<c_int>),
}

/// Retry interval while the socket is missing or refuses connections.
const SOCKET_RETRY_MS: c_int = 50;

/// Connects within the deadline, waiting for a server that is still starting: the socket
/// appears (ENOENT until then) only once the server is ready, and a stale socket file left
/// by a previous server refuses connections (ECONNREFUSED) until the new one replaces it.
/// Every other error fails at once.
fn connect(socket: &[u8], deadline: &Deadline) -> Result<Fd, ConnectFailure> {
    let mut addr = sys::SockaddrUn { sun_family: sys::AF_UNIX as u16, sun_path: [0; 108] };
    let n = socket.len().min(addr.sun_path.len() - 1); // config.rs caps it at 107 bytes
    addr.sun_path[..n].copy_from_slice(&socket[..n]);
    loop {
        match connect_once(&addr, deadline) {
            Err(ConnectFailure::Failed(e)) if e == sys::ENOENT || e == sys::ECONNREFUSED => {
                let Some(ms) = deadline.left() else { return Err(ConnectFailure::TimedOut(Some(e))) };
                // SAFETY: no fds, only the timeout.
                unsafe { sys::poll(core::ptr::null_mut(), 0, ms.min(SOCKET_RETRY_MS)) };
                // Then one more attempt even if the deadline passed meanwhile.
            }
            other => return other,
        }
    }
}

/// One connection attempt on a fresh socket, without blocking past the deadline: a server
/// whose accept backlog is full makes a unix-socket connect fail with EAGAIN (non-blocking)
/// or block forever (blocking).
fn connect_once(addr: &sys::SockaddrUn, deadline: &Deadline) -> Result<Fd, ConnectFailure> {
    let flags = sys::SOCK_STREAM | sys::O_CLOEXEC | sys::O_NONBLOCK;
    // SAFETY: plain syscalls on a struct we own.
    let fd = unsafe { sys::socket(sys::AF_UNIX, flags, 0) };
    if fd < 0 {
        return Err(ConnectFailure::Failed(sys::errno()));
    }
    let fd = Fd(fd);
    loop {
        let len = core::mem::size_of::<sys::SockaddrUn>() as sys::SockLen;
        if unsafe { sys::connect(fd.0, addr, len) } == 0 {
            return Ok(fd);
        }
        match sys::errno() {
            sys::EINTR => {}
            sys::EAGAIN => {
                // Backlog full: retry shortly, within the deadline.
                let Some(ms) = deadline.left() else { return Err(ConnectFailure::TimedOut(None)) };
                unsafe { sys::poll(core::ptr::null_mut(), 0, ms.min(5)) };
            }
            sys::EINPROGRESS => {
                match wait(fd.0, sys::POLLOUT, deadline).map_err(ConnectFailure::Failed)? {
                    Wait::TimedOut => return Err(ConnectFailure::TimedOut(None)),
                    Wait::Ready(_) => {}
                }
                let mut err: c_int = 0;
                let mut len = core::mem::size_of::<c_int>() as sys::SockLen;
                let got = unsafe { sys::getsockopt(fd.0, sys::SOL_SOCKET, sys::SO_ERROR, (&mut err as *mut c_int).cast(), &mut len) };
                return match (got, err) {
                    (0, 0) => Ok(fd),
                    (0, e) => Err(ConnectFailure::Failed(e)),
                    _ => Err(ConnectFailure::Failed(sys::errno())),
                };
            }
            e => return Err(ConnectFailure::Failed(e)),
        }
    }
}

/// One request/response over the unix socket, all within `timeout_ms`.
fn exchange(socket: &[u8], head: &[u8], body: &[u8], timeout_ms: u64) -> Result<Response, Vec<u8>> {
    let deadline = Deadline(now_ms() + timeout_ms);
    let at = |what: &[u8]| {
        let mut why = what.to_vec();
        why.extend_from_slice(socket);
        why
    };
    let timed_out = |during: &[u8]| {
        let mut why = b"no complete answer from the hook server within timeout_ms=".to_vec();
        text::push_u64(&mut why, timeout_ms);
        why.extend_from_slice(b" (");
        why.extend_from_slice(during);
        why.push(b')');
        why
    };
    let fd = match connect(socket, &deadline) {
        Ok(fd) => fd,
        Err(ConnectFailure::Failed(e)) => return Err(with_errno(at(b"cannot connect to the hook server at "), e)),
        Err(ConnectFailure::TimedOut(Some(e))) => {
            let mut why = at(b"cannot connect to the hook server at ");
            why.extend_from_slice(b" within timeout_ms=");
            text::push_u64(&mut why, timeout_ms);
            return Err(with_errno(why, e));
        }
        Err(ConnectFailure::TimedOut(None)) => return Err(timed_out(b"connecting")),
    };

    // Send while also watching for an early reply: a server may answer (413, 400) and close
    // before it has read the whole body, and that reply is the best explanation.
    let parts = [head, body];
    let (mut part, mut off) = (0usize, 0usize);
    let mut write_err: Option<c_int> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(16 << 10);
    let mut chunk = alloc::vec![0u8; 64 << 10];
    let mut eof = false;
    loop {
        while part < parts.len() && off == parts[part].len() {
            part += 1;
            off = 0;
        }
        let sending = part < parts.len() && write_err.is_none();
        let events = if sending { sys::POLLIN | sys::POLLOUT } else { sys::POLLIN };
        let revents = match wait(fd.0, events, &deadline) {
            Ok(Wait::Ready(r)) => r,
            Ok(Wait::TimedOut) => return Err(timed_out(if sending { b"sending" } else { b"waiting for the reply" })),
            Err(e) => return Err(with_errno(at(b"cannot wait on the socket to "), e)),
        };
        if revents & (sys::POLLIN | sys::POLLHUP | sys::POLLERR) != 0 {
            // SAFETY: reads into a live buffer of the given size.
            let n = unsafe { sys::read(fd.0, chunk.as_mut_ptr().cast::<c_void>(), chunk.len()) };
            if n > 0 {
                buf.extend_from_slice(&chunk[..n as usize]);
            } else if n == 0 {
                eof = true;
            } else {
                let e = sys::errno();
                if e != sys::EINTR && e != sys::EAGAIN {
                    // A reset: whatever arrived is all there will be.
                    if buf.is_empty() {
                        let e = write_err.unwrap_or(e);
                        return Err(with_errno(at(b"lost the connection to the hook server at "), e));
                    }
                    eof = true;
                }
            }
            match http::parse_response(&buf, eof) {
                Parsed::Complete(r) => return Ok(r),
                Parsed::Incomplete => {}
                Parsed::Malformed(what) => {
                    if buf.is_empty() {
                        if let Some(e) = write_err {
                            return Err(with_errno(at(b"cannot send the domain XML to "), e));
                        }
                        return Err(at(b"the hook server closed the connection without answering: "));
                    }
                    let mut why = b"unusable answer from the hook server: ".to_vec();
                    why.extend_from_slice(what.as_bytes());
                    return Err(why);
                }
            }
        } else if sending && revents & sys::POLLOUT != 0 {
            let rest = &parts[part][off..];
            // SAFETY: sends from a live slice; MSG_NOSIGNAL turns a closed peer into EPIPE.
            let n = unsafe { sys::send(fd.0, rest.as_ptr().cast::<c_void>(), rest.len(), sys::MSG_NOSIGNAL) };
            if n >= 0 {
                off += n as usize;
            } else {
                let e = sys::errno();
                if e != sys::EINTR && e != sys::EAGAIN {
                    write_err = Some(e); // keep reading: a reply may already be on its way
                }
            }
        } else {
            // Only POLLNVAL or the like is left: nothing more can be read or written.
            return Err(at(b"the socket became unusable while talking to "));
        }
    }
}

#[cfg(test)]
mod tests {
    //! The I/O shell against real unix sockets (std listeners in threads).
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;
    use std::path::{Path, PathBuf};

    fn temp_socket(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pmh-client-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("s.sock")
    }

    fn bytes(p: &Path) -> Vec<u8> {
        p.to_str().unwrap().as_bytes().to_vec()
    }

    /// Serves one connection: reads the request head + Content-Length body, then `reply`.
    fn serve_once(path: &Path, reply: impl AsRef<[u8]> + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
        let listener = UnixListener::bind(path).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = s.read(&mut chunk).unwrap();
                got.extend_from_slice(&chunk[..n]);
                if let Some(i) = text::find(&got, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&got[..i]).to_lowercase();
                    let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).map_or(0, |v| v.trim().parse().unwrap());
                    if got.len() >= i + 4 + len || n == 0 {
                        break;
                    }
                }
            }
            // The client may give up first (a refused answer): a failed write is fine.
            let _ = s.write_all(reply.as_ref());
            got
        })
    }

    #[test]
    fn exchange_sends_head_and_body_and_returns_the_reply() {
        let path = temp_socket("ok");
        let server = serve_once(&path, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<domain/>");
        let resp = exchange(&bytes(&path), b"POST /v1/migrate-begin HTTP/1.1\r\nContent-Length: 5\r\n\r\n", b"<x/>\n", 5000).unwrap();
        assert_eq!(resp, Response { status: 200, body: b"<domain/>".to_vec() });
        let got = server.join().unwrap();
        assert!(got.ends_with(b"\r\n\r\n<x/>\n"));
    }

    /// Serves one 204 on a listener bound only after `delay`.
    fn serve_late(path: &Path, delay: std::time::Duration) -> std::thread::JoinHandle<()> {
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let _ = std::fs::remove_file(&path);
            let listener = UnixListener::bind(&path).unwrap();
            let (mut s, _) = listener.accept().unwrap();
            let mut chunk = [0u8; 4096];
            let _ = s.read(&mut chunk).unwrap();
            s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        })
    }

    const PING: &[u8] = b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn exchange_waits_for_a_socket_that_appears_later() {
        let path = temp_socket("late");
        let server = serve_late(&path, std::time::Duration::from_millis(300));
        let t0 = std::time::Instant::now();
        let resp = exchange(&bytes(&path), PING, b"", 5000).unwrap();
        let took = t0.elapsed();
        assert_eq!(resp.status, 204);
        assert!(took >= std::time::Duration::from_millis(300) && took < std::time::Duration::from_millis(2000), "{took:?}");
        server.join().unwrap();
    }

    #[test]
    fn exchange_waits_while_a_stale_socket_refuses() {
        let path = temp_socket("stale");
        drop(UnixListener::bind(&path).unwrap()); // the file stays: connect gives ECONNREFUSED
        assert_eq!(std::os::unix::net::UnixStream::connect(&path).unwrap_err().raw_os_error(), Some(sys::ECONNREFUSED));
        let server = serve_late(&path, std::time::Duration::from_millis(300));
        assert_eq!(exchange(&bytes(&path), PING, b"", 5000).unwrap().status, 204);
        server.join().unwrap();
    }

    #[test]
    fn exchange_gives_up_waiting_for_the_socket_at_the_deadline() {
        let path = temp_socket("none");
        let t0 = std::time::Instant::now();
        let why = exchange(&bytes(&path), PING, b"", 300).unwrap_err();
        let took = t0.elapsed();
        let want = format!("cannot connect to the hook server at {} within timeout_ms=300: No such file or directory", path.display());
        assert_eq!(String::from_utf8(why).unwrap(), want);
        // The deadline is kept in whole milliseconds of CLOCK_MONOTONIC, so up to 1 ms early.
        assert!(took >= std::time::Duration::from_millis(298) && took < std::time::Duration::from_millis(1000), "{took:?}");
    }

    #[test]
    fn exchange_fails_fast_on_other_connect_errors() {
        let path = temp_socket("notdir");
        std::fs::write(&path, b"").unwrap();
        let below = path.join("s.sock"); // a path through a regular file: ENOTDIR
        let t0 = std::time::Instant::now();
        let why = exchange(&bytes(&below), PING, b"", 5000).unwrap_err();
        assert!(t0.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(String::from_utf8(why).unwrap(), format!("cannot connect to the hook server at {}: Not a directory", below.display()));
    }

    #[test]
    fn exchange_deadline_fires_on_a_silent_server() {
        let path = temp_socket("silent");
        let listener = UnixListener::bind(&path).unwrap();
        // Without the deadline this call would never return: the listener stays open, silent.
        let why = exchange(&bytes(&path), b"GET / HTTP/1.1\r\n\r\n", b"", 200).unwrap_err();
        assert!(why.starts_with(b"no complete answer from the hook server within timeout_ms=200"));
        drop(listener);
    }

    #[test]
    fn exchange_reports_garbage() {
        let path = temp_socket("junk");
        let _server = serve_once(&path, b"\x00\x01 not http at all\r\n\r\n");
        let why = exchange(&bytes(&path), b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"", 5000).unwrap_err();
        assert_eq!(why, b"unusable answer from the hook server: not an HTTP/1.x response");
    }

    #[test]
    fn exchange_refuses_answers_whose_framing_does_not_prove_them_complete() {
        for (name, reply, why) in [
            (
                "eof",
                &b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n\r\n<domain><name>vm</name>"[..],
                "a success answer without Content-Length or chunked framing (a cut-off body would look complete)",
            ),
            (
                "short",
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<domain><name>vm</name>",
                "connection closed before the end of the body",
            ),
            (
                "chunk",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n<domain/>\r\n",
                "connection closed inside a chunked body",
            ),
        ] {
            let path = temp_socket(&format!("framing-{name}"));
            let server = serve_once(&path, reply);
            let got = exchange(&bytes(&path), b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"", 5000).unwrap_err();
            assert_eq!(String::from_utf8(got).unwrap(), format!("unusable answer from the hook server: {why}"), "{name}");
            server.join().unwrap();
        }
    }

    #[test]
    fn a_cut_answer_from_a_real_socket_is_never_printed() {
        const XML: &[u8] = b"<domain type='kvm'>\n  <name>vm</name>\n  <vcpu cpuset='2-3'>2</vcpu>\n</domain>\n";
        let mut framed = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", XML.len()).into_bytes();
        framed.extend_from_slice(XML);
        let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for part in XML.chunks(32) {
            chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            chunked.extend_from_slice(part);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let mut rng = text::Rng(0x0C07_C0DE);
        let dir = temp_socket("cuts").parent().unwrap().to_path_buf();
        for i in 0..120 {
            let answer = if i % 2 == 0 { &framed } else { &chunked };
            // Mostly proper prefixes; now and then the whole answer, which must get through.
            let cut = if i % 10 == 0 { answer.len() } else { rng.below(answer.len()) };
            let path = dir.join(format!("{i}.sock"));
            let server = serve_once(&path, answer[..cut].to_vec());
            let got = exchange(&bytes(&path), b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"", 5000).and_then(outcome::interpret);
            server.join().unwrap();
            match got {
                Ok(Reply::Changed(xml)) => assert!(cut == answer.len() && xml == XML, "printed cut {cut} of answer {i}"),
                Ok(Reply::Unchanged) => panic!("cut {cut} of answer {i} read as 204"),
                Err(_) => assert!(cut < answer.len(), "the whole answer {i} was refused"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn probe_is_healthy_only_on_a_200() {
        let path = temp_socket("probe-ok");
        let server = serve_once(&path, &b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}"[..]);
        assert_eq!(probe(&bytes(&path), 1000), Ok(()));
        let got = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(got.starts_with("GET /healthz HTTP/1.1\r\nHost: localhost\r\n"), "{got:?}");

        let path = temp_socket("probe-503");
        let server = serve_once(&path, &b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}"[..]);
        assert_eq!(probe(&bytes(&path), 1000).unwrap_err(), b"probe: GET /healthz answered HTTP 503");
        server.join().unwrap();

        let path = temp_socket("probe-junk");
        let server = serve_once(&path, &b"SSH-2.0-OpenSSH\r\n\r\n"[..]);
        assert_eq!(probe(&bytes(&path), 1000).unwrap_err(), b"probe: unusable answer from the hook server: not an HTTP/1.x response");
        server.join().unwrap();

        // A 200 whose body is cut off is not a 200.
        let path = temp_socket("probe-cut");
        let server = serve_once(&path, &b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"sta"[..]);
        assert!(probe(&bytes(&path), 1000).is_err());
        server.join().unwrap();
    }

    #[test]
    fn probe_waits_for_the_socket_within_its_timeout_only() {
        let path = temp_socket("probe-late");
        let late = std::thread::spawn({
            let path = path.clone();
            move || {
                std::thread::sleep(std::time::Duration::from_millis(300));
                let listener = UnixListener::bind(&path).unwrap();
                let (mut s, _) = listener.accept().unwrap();
                let _ = s.read(&mut [0u8; 4096]).unwrap();
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
            }
        });
        assert_eq!(probe(&bytes(&path), 1000), Ok(()));
        late.join().unwrap();

        // No server: fails at its own timeout, not at the client's usual 2 s.
        let path = temp_socket("probe-none");
        let t0 = std::time::Instant::now();
        let why = probe(&bytes(&path), 200).unwrap_err();
        let took = t0.elapsed();
        assert!(took >= std::time::Duration::from_millis(198) && took < std::time::Duration::from_millis(700), "{took:?}");
        assert!(why.starts_with(b"probe: cannot connect to the hook server at "), "{}", String::from_utf8_lossy(&why));
        assert!(why.ends_with(b" within timeout_ms=200: No such file or directory"));

        // A server that accepts but never answers: the same bound.
        let path = temp_socket("probe-silent");
        let listener = UnixListener::bind(&path).unwrap();
        let t0 = std::time::Instant::now();
        let why = probe(&bytes(&path), 200).unwrap_err();
        assert!(t0.elapsed() < std::time::Duration::from_millis(700));
        assert_eq!(why, b"probe: no complete answer from the hook server within timeout_ms=200 (waiting for the reply)");
        drop(listener);
    }

    #[test]
    fn probe_usage_error_exits_one() {
        assert_eq!(run(&[b"--probe", b"--bogus"]), 1);
        assert_eq!(run(&[b"--probe", b"--timeout-ms", b"0"]), 1);
    }

    fn conf(socket: &Path, timeout_ms: u64) -> Result<Config, Vec<u8>> {
        Ok(Config { socket: bytes(socket), timeout_ms, on_error: Policy::Abort, max_xml_bytes: 1 << 20 })
    }

    #[test]
    fn release_end_posts_the_domain_with_an_empty_body() {
        let path = temp_socket("release-ok");
        let server = serve_once(&path, &b"HTTP/1.1 204 No Content\r\n\r\n"[..]);
        assert_eq!(notify_release(b"default_vm-1", conf(&path, 2000)), Ok(()));
        let got = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(got.starts_with("POST /v1/release-end HTTP/1.1\r\n"), "{got:?}");
        assert!(got.contains("\r\nContent-Length: 0\r\n") && got.contains("\r\nX-Premigration-Domain: default_vm-1\r\n"));
        assert!(got.ends_with("\r\n\r\n"), "no body: {got:?}");
    }

    #[test]
    fn release_end_reports_but_survives_every_failure() {
        let path = temp_socket("release-404");
        let server = serve_once(&path, &b"HTTP/1.1 404 Not Found\r\nContent-Length: 21\r\n\r\n{\"error\":\"not found\"}"[..]);
        assert_eq!(notify_release(b"vm", conf(&path, 2000)).unwrap_err(), b"release-end: the hook server answered HTTP 404: not found");
        server.join().unwrap();
        let why = notify_release(b"vm", Err(b"config /x is unreadable: No such file or directory".to_vec())).unwrap_err();
        assert_eq!(why, b"release-end: config /x is unreadable: No such file or directory");
    }

    #[test]
    fn release_end_is_bounded_by_one_second_or_timeout_ms() {
        // A silent server with timeout_ms=5000: given up after 1 s.
        let path = temp_socket("release-silent");
        let listener = UnixListener::bind(&path).unwrap();
        let t0 = std::time::Instant::now();
        let why = notify_release(b"vm", conf(&path, 5000)).unwrap_err();
        let took = t0.elapsed();
        assert!(took >= std::time::Duration::from_millis(998) && took < std::time::Duration::from_millis(1500), "{took:?}");
        assert!(why.starts_with(b"release-end: no complete answer from the hook server within timeout_ms=1000"));
        drop(listener);
        // No server and a shorter timeout_ms: that one applies (the socket wait included).
        let path = temp_socket("release-none");
        let t0 = std::time::Instant::now();
        assert!(notify_release(b"vm", conf(&path, 200)).is_err());
        assert!(t0.elapsed() < std::time::Duration::from_millis(700));
    }

    #[test]
    fn read_file_bounds_and_errors() {
        assert_eq!(read_file(b"/nonexistent/pmh", 10), Err(2)); // ENOENT
        let data = read_file(b"/proc/self/status", SMALL_FILE).unwrap();
        assert!(data.starts_with(b"Name:"));
        assert!(read_file(b"/proc/self/status", 3).unwrap().len() > 3); // stops once over the bound
    }

    #[test]
    fn own_cpuset_finds_a_valid_list() {
        let (list, _source) = own_cpuset().unwrap();
        assert!(cpuset::valid_list(&list).is_some());
    }

    #[test]
    fn version_and_ignored_ops_exit_zero() {
        assert_eq!(run(&[b"vm", b"started", b"begin", b"-"]), 0);
        assert_eq!(run(&[]), 0);
    }
}
