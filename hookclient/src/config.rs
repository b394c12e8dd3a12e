//! The client's config file, written by the hook server at start:
//!
//! ```text
//! socket=/var/run/premigration-hooks/hooks.sock
//! timeout_ms=2000
//! on_error=pass            # or abort
//! ```
//!
//! `#` starts a comment at the beginning of a line or after whitespace. Unknown keys are
//! ignored so that a newer server can add keys for a newer client. The error policy is
//! extracted even when another key is invalid, so that `on_error=abort` still holds then;
//! when the file is missing or `on_error` itself is unusable the policy is `pass`, because a
//! broken install must not block every migration.

use alloc::vec::Vec;

use crate::text::{parse_u64, trim};

pub const DEFAULT_PATH: &[u8] = b"/var/run/premigration-hooks/client.conf";
/// Where the server listens unless told otherwise (and what it writes into client.conf).
pub const DEFAULT_SOCKET: &[u8] = b"/var/run/premigration-hooks/hooks.sock";
/// Tests only: libvirt rebuilds the hook's environment from scratch, so this never reaches
/// the client in production.
pub const PATH_ENV: &[u8] = b"PREMIGRATION_HOOKS_CLIENT_CONF";
pub const DEFAULT_TIMEOUT_MS: u64 = 2000;
pub const MAX_TIMEOUT_MS: u64 = 600_000;
pub const DEFAULT_MAX_XML_BYTES: u64 = 16 << 20;
/// Largest `sun_path` that fits `struct sockaddr_un` with its terminating NUL.
pub const MAX_SOCKET_PATH: usize = 107;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Policy {
    Pass,
    Abort,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Config {
    pub socket: Vec<u8>,
    pub timeout_ms: u64,
    pub on_error: Policy,
    pub max_xml_bytes: u64,
}

/// What went wrong, as a fixed phrase plus the offending key.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub what: &'static str,
    pub key: &'static [u8],
}

/// Returns the policy to apply (even on error) and the config, if valid.
pub fn parse(text: &[u8]) -> (Policy, Result<Config, ConfigError>) {
    let mut socket: Option<&[u8]> = None;
    let mut timeout: Option<&[u8]> = None;
    let mut on_error: Option<&[u8]> = None;
    let mut max_xml: Option<&[u8]> = None;
    let mut malformed = false;
    for entry in entries(text) {
        let Some((key, value)) = entry else {
            malformed = true;
            continue;
        };
        match key {
            b"socket" => socket = Some(value),
            b"timeout_ms" => timeout = Some(value),
            b"on_error" => on_error = Some(value),
            b"max_xml_bytes" => max_xml = Some(value),
            _ => {}
        }
    }
    let policy = match on_error {
        Some(b"abort") => Policy::Abort,
        Some(b"pass") | None => Policy::Pass,
        Some(_) => return (Policy::Pass, Err(ConfigError { what: "must be pass or abort", key: b"on_error" })),
    };
    let result = (|| {
        if malformed {
            return Err(ConfigError { what: "has a line without '='", key: b"" });
        }
        let socket = match socket {
            None | Some(b"") => return Err(ConfigError { what: "is missing", key: b"socket" }),
            Some(s) if s.len() > MAX_SOCKET_PATH => return Err(ConfigError { what: "is longer than 107 bytes", key: b"socket" }),
            Some(s) if s.contains(&0) => return Err(ConfigError { what: "contains a NUL byte", key: b"socket" }),
            Some(s) => s.to_vec(),
        };
        let timeout_ms = match timeout {
            None => DEFAULT_TIMEOUT_MS,
            Some(t) => match parse_u64(t) {
                Some(n) if (1..=MAX_TIMEOUT_MS).contains(&n) => n,
                _ => return Err(ConfigError { what: "must be an integer from 1 to 600000", key: b"timeout_ms" }),
            },
        };
        let max_xml_bytes = match max_xml {
            None => DEFAULT_MAX_XML_BYTES,
            Some(t) => match parse_u64(t) {
                Some(n) if (1..=1 << 30).contains(&n) => n,
                _ => return Err(ConfigError { what: "must be an integer from 1 to 1073741824", key: b"max_xml_bytes" }),
            },
        };
        Ok(Config { socket, timeout_ms, on_error: policy, max_xml_bytes })
    })();
    (policy, result)
}

/// The `key=value` lines, trimmed; `None` for a non-empty line without `=`.
fn entries(text: &[u8]) -> impl Iterator<Item = Option<(&[u8], &[u8])>> {
    text.split(|&c| c == b'\n').map(|raw| trim(strip_comment(raw))).filter(|line| !line.is_empty()).map(|line| {
        let eq = line.iter().position(|&c| c == b'=')?;
        Some((trim(&line[..eq]), trim(&line[eq + 1..])))
    })
}

/// The socket `--probe` uses without `--socket`: the config's `socket=` if `text` (the
/// config file, if readable) has a usable one, else `DEFAULT_SOCKET`. The rest of the file
/// does not matter here: the probe must find the server even if another key is invalid.
pub fn probe_socket(text: Option<&[u8]>) -> &[u8] {
    let socket = text.and_then(|t| entries(t).flatten().filter(|(k, _)| *k == b"socket").last()).map(|(_, v)| v);
    match socket {
        Some(s) if !s.is_empty() && s.len() <= MAX_SOCKET_PATH && !s.contains(&0) => s,
        _ => DEFAULT_SOCKET,
    }
}

/// Cuts a `#` comment that starts the line or follows whitespace (a `#` inside a value,
/// such as a path, is kept).
fn strip_comment(line: &[u8]) -> &[u8] {
    for (i, &c) in line.iter().enumerate() {
        if c == b'#' && (i == 0 || matches!(line[i - 1], b' ' | b'\t')) {
            return &line[..i];
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_file_the_server_writes() {
        let text = b"# written by premigration-hooks serve\nsocket=/var/run/premigration-hooks/hooks.sock\ntimeout_ms=2000\non_error=pass            # or abort\n";
        let (policy, cfg) = parse(text);
        assert_eq!(policy, Policy::Pass);
        assert_eq!(
            cfg.unwrap(),
            Config {
                socket: b"/var/run/premigration-hooks/hooks.sock".to_vec(),
                timeout_ms: 2000,
                on_error: Policy::Pass,
                max_xml_bytes: DEFAULT_MAX_XML_BYTES,
            }
        );
    }

    #[test]
    fn defaults_whitespace_crlf_and_unknown_keys() {
        let (policy, cfg) = parse(b"\r\n  socket = /tmp/a#b.sock \r\non_error=abort\r\nfuture_key=1\n");
        assert_eq!(policy, Policy::Abort);
        let cfg = cfg.unwrap();
        assert_eq!(cfg.socket, b"/tmp/a#b.sock");
        assert_eq!(cfg.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(cfg.on_error, Policy::Abort);
        let (_, cfg) = parse(b"socket=/s\nmax_xml_bytes=1024\n");
        assert_eq!(cfg.unwrap().max_xml_bytes, 1024);
    }

    #[test]
    fn abort_survives_an_invalid_other_key() {
        let (policy, cfg) = parse(b"on_error=abort\nsocket=/s\ntimeout_ms=soon\n");
        assert_eq!(policy, Policy::Abort);
        assert_eq!(cfg.unwrap_err().key, b"timeout_ms");
        let (policy, cfg) = parse(b"on_error=abort\n");
        assert_eq!(policy, Policy::Abort);
        assert_eq!(cfg.unwrap_err().key, b"socket");
    }

    #[test]
    fn rejects_bad_values_with_pass_unless_abort_is_set() {
        for text in [
            &b""[..],
            b"socket=\n",
            b"socket=/s\ntimeout_ms=0\n",
            b"socket=/s\ntimeout_ms=600001\n",
            b"socket=/s\ntimeout_ms=-5\n",
            b"socket=/s\nthis line has no equals sign\n",
            b"socket=/s\non_error=maybe\n",
            b"socket=/s\nmax_xml_bytes=0\n",
        ] {
            let (policy, cfg) = parse(text);
            assert_eq!(policy, Policy::Pass, "{:?}", String::from_utf8_lossy(text));
            assert!(cfg.is_err(), "{:?}", String::from_utf8_lossy(text));
        }
        let long = [b"socket=/".as_slice(), &[b'x'; 107]].concat();
        assert_eq!(parse(&long).1.unwrap_err().key, b"socket");
        let fits = [b"socket=/".as_slice(), &[b'x'; 106]].concat();
        assert!(parse(&fits).1.is_ok());
    }

    #[test]
    fn probe_socket_comes_from_the_config_else_the_default() {
        assert_eq!(probe_socket(Some(b"socket=/run/a.sock\ntimeout_ms=2000\n")), b"/run/a.sock");
        // Another key being invalid does not matter to the probe.
        assert_eq!(probe_socket(Some(b"timeout_ms=soon\nno equals\nsocket = /run/b.sock # c\n")), b"/run/b.sock");
        for text in [None, Some(&b""[..]), Some(b"socket=\n"), Some(b"timeout_ms=1\n")] {
            assert_eq!(probe_socket(text), DEFAULT_SOCKET);
        }
        let long = [b"socket=/".as_slice(), &[b'x'; 107]].concat();
        assert_eq!(probe_socket(Some(&long)), DEFAULT_SOCKET);
    }
}
