//! Which libvirt hook calls the client acts on, and its own command line.
//!
//! libvirt runs every qemu hook at every VM start, stop, reconnect and migration with
//! `<domain> <op> <subop> <extra>`; only `migrate begin` and `restore begin` read stdout.
//! `release end` (the domain has left this pod: migrated away, or stopped) is forwarded as
//! a notification whose outcome libvirt ignores. Everything else must return at once
//! without reading a file or touching the socket.
//!
//! Operators and Kubernetes call it with flags instead: `--version`, and
//! `--probe [--socket PATH] [--timeout-ms N]` (a startup/readiness probe exec'd in the
//! sidecar). A libvirt call is told apart by its second argument: an op is a plain word,
//! never `--…`, so even a domain named `--probe` is routed as libvirt meant it.

use crate::config::{MAX_SOCKET_PATH, MAX_TIMEOUT_MS};
use crate::text::parse_u64;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum XmlOp {
    Migrate,
    Restore,
}

impl XmlOp {
    /// Value of the `X-Premigration-Op` header.
    pub fn name(self) -> &'static [u8] {
        match self {
            XmlOp::Migrate => b"migrate",
            XmlOp::Restore => b"restore",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// Not ours: exit 0, print nothing.
    Ignore,
    /// `--version` given as the only argument (for operators; libvirt always passes four).
    Version,
    /// Filter the domain XML on stdin.
    Filter { domain: &'a [u8], op: XmlOp },
    /// `release end`: tell the server the domain left, then exit 0 whatever happened.
    Release { domain: &'a [u8] },
    /// `--probe`: `GET /healthz`, exit 0 on 200.
    Probe(Probe<'a>),
    /// A flag command line that cannot be run: exit 1 with one stderr line.
    Usage { what: &'static str, arg: &'a [u8] },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Probe<'a> {
    /// `None`: the socket named in client.conf, else the default path.
    pub socket: Option<&'a [u8]>,
    pub timeout_ms: u64,
}

/// Default `--timeout-ms` of `--probe`: Kubernetes' default probe timeoutSeconds is 1.
pub const PROBE_TIMEOUT_MS: u64 = 1000;

/// `args` excludes argv[0].
pub fn route<'a>(args: &[&'a [u8]]) -> Route<'a> {
    match args {
        [flag] if *flag == b"--version" => Route::Version,
        [flag, rest @ ..] if *flag == b"--probe" && rest.first().is_none_or(|a| a.starts_with(b"--")) => probe(rest),
        [domain, op, subop, _extra, ..] if *op == b"release" && *subop == b"end" => Route::Release { domain },
        [domain, op, subop, _extra, ..] if *subop == b"begin" => match *op {
            b"migrate" => Route::Filter { domain, op: XmlOp::Migrate },
            b"restore" => Route::Filter { domain, op: XmlOp::Restore },
            _ => Route::Ignore,
        },
        _ => Route::Ignore,
    }
}

/// Parses the flags after `--probe`: `--socket PATH`, `--timeout-ms N` (or `--flag=value`).
fn probe<'a>(mut args: &[&'a [u8]]) -> Route<'a> {
    let mut p = Probe { socket: None, timeout_ms: PROBE_TIMEOUT_MS };
    while let [arg, rest @ ..] = args {
        let (flag, inline) = match arg.iter().position(|&c| c == b'=') {
            Some(i) if arg.starts_with(b"--") => (&arg[..i], Some(&arg[i + 1..])),
            _ => (*arg, None),
        };
        let value = match (inline, rest) {
            (Some(v), _) => {
                args = rest;
                v
            }
            (None, [v, tail @ ..]) if flag == b"--socket" || flag == b"--timeout-ms" => {
                args = tail;
                v
            }
            _ if flag == b"--socket" || flag == b"--timeout-ms" => return Route::Usage { what: "--probe: a value must follow", arg },
            _ => return Route::Usage { what: "--probe: unknown argument", arg },
        };
        match flag {
            b"--socket" if value.is_empty() || value.len() > MAX_SOCKET_PATH => {
                return Route::Usage { what: "--probe: --socket must be a path of 1 to 107 bytes", arg: value }
            }
            b"--socket" => p.socket = Some(value),
            b"--timeout-ms" => match parse_u64(value) {
                Some(n) if (1..=MAX_TIMEOUT_MS).contains(&n) => p.timeout_ms = n,
                _ => return Route::Usage { what: "--probe: --timeout-ms must be an integer from 1 to 600000", arg: value },
            },
            _ => return Route::Usage { what: "--probe: unknown argument", arg },
        }
    }
    Route::Probe(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r<'a>(args: &[&'a str]) -> Route<'a> {
        let v: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        route(&v)
    }

    #[test]
    fn acts_only_on_migrate_and_restore_begin() {
        assert_eq!(r(&["vm", "migrate", "begin", "-"]), Route::Filter { domain: b"vm", op: XmlOp::Migrate });
        assert_eq!(r(&["ns_vm", "restore", "begin", "-"]), Route::Filter { domain: b"ns_vm", op: XmlOp::Restore });
    }

    #[test]
    fn ignores_every_other_call_libvirt_makes() {
        for call in [
            ["vm", "prepare", "begin", "-"],
            ["vm", "start", "begin", "-"],
            ["vm", "started", "begin", "-"],
            ["vm", "stopped", "end", "-"],
            ["vm", "release", "begin", "-"],
            ["vm", "RELEASE", "end", "-"],
            ["vm", "reconnect", "begin", "-"],
            ["vm", "attach", "begin", "-"],
            ["vm", "migrate", "end", "-"],
            ["vm", "restore", "end", "-"],
            ["vm", "MIGRATE", "begin", "-"],
            ["migrate", "begin", "-", "-"],
        ] {
            assert_eq!(r(&call), Route::Ignore, "{call:?}");
        }
    }

    #[test]
    fn release_end_is_forwarded_as_a_notification() {
        assert_eq!(r(&["default_vm-1", "release", "end", "-"]), Route::Release { domain: b"default_vm-1" });
        assert_eq!(r(&["vm", "release", "end", "migrated"]), Route::Release { domain: b"vm" });
        assert_eq!(r(&["--probe", "release", "end", "-"]), Route::Release { domain: b"--probe" });
        // Not a libvirt release call: too few arguments.
        assert_eq!(r(&["vm", "release", "end"]), Route::Ignore);
        assert_eq!(r(&["release", "end", "-"]), Route::Ignore);
    }

    #[test]
    fn short_or_empty_argv_is_ignored() {
        assert_eq!(r(&[]), Route::Ignore);
        assert_eq!(r(&["vm"]), Route::Ignore);
        assert_eq!(r(&["vm", "migrate", "begin"]), Route::Ignore);
        assert_eq!(r(&["--version"]), Route::Version);
        assert_eq!(r(&["--version", "migrate", "begin", "-"]), Route::Filter { domain: b"--version", op: XmlOp::Migrate });
    }

    fn probe(socket: Option<&'static [u8]>, timeout_ms: u64) -> Route<'static> {
        Route::Probe(Probe { socket, timeout_ms })
    }

    #[test]
    fn probe_flags() {
        assert_eq!(r(&["--probe"]), probe(None, 1000));
        assert_eq!(r(&["--probe", "--socket", "/run/x.sock"]), probe(Some(b"/run/x.sock"), 1000));
        assert_eq!(r(&["--probe", "--timeout-ms", "250", "--socket", "/s"]), probe(Some(b"/s"), 250));
        assert_eq!(r(&["--probe", "--socket=/s", "--timeout-ms=7"]), probe(Some(b"/s"), 7));
        assert_eq!(r(&["--probe", "--socket", "/a", "--socket", "/b"]), probe(Some(b"/b"), 1000)); // last wins
        assert_eq!(r(&["--probe", "--socket", "--timeout-ms"]), probe(Some(b"--timeout-ms"), 1000));
        // a value is a value
    }

    #[test]
    fn probe_usage_errors() {
        for (args, what, arg) in [
            (&["--probe", "--bogus"][..], "--probe: unknown argument", "--bogus"),
            (&["--probe", "--socket"], "--probe: a value must follow", "--socket"),
            (&["--probe", "--timeout-ms"], "--probe: a value must follow", "--timeout-ms"),
            (&["--probe", "--socket", "/s", "extra"], "--probe: unknown argument", "extra"),
            (&["--probe", "--socket="], "--probe: --socket must be a path of 1 to 107 bytes", ""),
            (&["--probe", "--timeout-ms", "0"], "--probe: --timeout-ms must be an integer from 1 to 600000", "0"),
            (&["--probe", "--timeout-ms", "600001"], "--probe: --timeout-ms must be an integer from 1 to 600000", "600001"),
            (&["--probe", "--timeout-ms", "1s"], "--probe: --timeout-ms must be an integer from 1 to 600000", "1s"),
            (&["--probe", "--bogus=1"], "--probe: unknown argument", "--bogus=1"),
        ] {
            assert_eq!(r(args), Route::Usage { what, arg: arg.as_bytes() }, "{args:?}");
        }
        let long = format!("--socket=/{}", "x".repeat(107));
        assert!(matches!(r(&["--probe", &long]), Route::Usage { .. }));
        let fits = format!("--socket=/{}", "x".repeat(106));
        assert!(matches!(r(&["--probe", &fits]), Route::Probe(_)));
    }

    #[test]
    fn a_domain_named_like_a_flag_is_still_a_libvirt_call() {
        // libvirt's second argument is an op word, never a flag.
        assert_eq!(r(&["--probe", "migrate", "begin", "-"]), Route::Filter { domain: b"--probe", op: XmlOp::Migrate });
        assert_eq!(r(&["--probe", "started", "begin", "-"]), Route::Ignore);
        assert_eq!(r(&["--probe", "stopped", "end", "-"]), Route::Ignore);
    }
}
