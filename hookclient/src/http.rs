//! The one HTTP exchange the client makes: build the request, and parse the reply from
//! whatever bytes arrived so far. The parser is a pure function over a byte slice that
//! never panics (unit tests feed it random and mutated input), so the I/O loop can call it
//! after every read and stop as soon as the message is complete, even if a server ignores
//! `Connection: close`.
//!
//! Framing rule: a success (2xx) answer counts only when HTTP's own framing says its body is
//! complete: exactly `Content-Length` bytes, or a chunked body through its last chunk and
//! trailer. A close-delimited 2xx body (no length, not chunked, as HTTP/1.0 allows) is refused
//! at once: a server or proxy dying mid-write would look exactly like a complete answer, and
//! the client would print a cut-off domain XML. Bytes already received past the framed end
//! are refused too: with `Connection: close` nothing may follow, so they mean the framing
//! does not describe the body (a `Content-Length` that undercounts). Error answers (4xx/5xx)
//! may still be close-delimited; they are read to EOF only to quote their message.

use alloc::vec::Vec;

use crate::text::{find, parse_u64, push_u64, trim};

/// Facts the client measured, sent as headers next to the XML.
pub struct RequestFacts<'a> {
    pub domain: &'a [u8],
    pub op: &'a [u8],
    pub cpuset: &'a [u8],
    pub cpuset_source: &'a [u8],
}

pub const PATH: &[u8] = b"/v1/migrate-begin";
const USER_AGENT: &[u8] = b"premigration-hooks-client/";

/// The request line, Host and User-Agent, each line ending in CRLF.
fn start(method: &[u8], path: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(512);
    h.extend_from_slice(method);
    h.push(b' ');
    h.extend_from_slice(path);
    // Node's HTTP server rejects HTTP/1.1 requests without Host.
    h.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ");
    h.extend_from_slice(USER_AGENT);
    h.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    h.extend_from_slice(b"\r\n");
    h
}

/// `--probe`: the whole request (no body).
pub const PROBE_PATH: &[u8] = b"/healthz";

pub fn probe_request() -> Vec<u8> {
    let mut h = start(b"GET", PROBE_PATH);
    h.extend_from_slice(b"Connection: close\r\n\r\n");
    h
}

/// `release end`: the whole request, an empty POST naming the domain.
pub const RELEASE_PATH: &[u8] = b"/v1/release-end";

pub fn release_request(domain: &[u8]) -> Vec<u8> {
    let mut h = start(b"POST", RELEASE_PATH);
    h.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\nX-Premigration-Domain: ");
    push_header_safe(&mut h, domain);
    h.extend_from_slice(b"\r\n\r\n");
    h
}

/// Head of the request; the body (the XML) is sent right after it.
pub fn request_head(facts: &RequestFacts, body_len: usize) -> Vec<u8> {
    let mut h = start(b"POST", PATH);
    h.extend_from_slice(b"Content-Type: application/xml\r\nContent-Length: ");
    push_u64(&mut h, body_len as u64);
    h.extend_from_slice(b"\r\nConnection: close\r\nX-Premigration-Op: ");
    h.extend_from_slice(facts.op);
    h.extend_from_slice(b"\r\nX-Premigration-Domain: ");
    push_header_safe(&mut h, facts.domain);
    h.extend_from_slice(b"\r\nX-Premigration-Cpuset: ");
    push_header_safe(&mut h, facts.cpuset);
    h.extend_from_slice(b"\r\nX-Premigration-Cpuset-Source: ");
    h.extend_from_slice(facts.cpuset_source);
    h.extend_from_slice(b"\r\n\r\n");
    h
}

/// Percent-encodes `%`, control bytes and non-ASCII bytes, so that no domain name can
/// break the request head. KubeVirt names (`<namespace>_<vm>`) pass through unchanged.
fn push_header_safe(out: &mut Vec<u8>, value: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in value {
        if c == b'%' || !(0x20..0x7f).contains(&c) {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        } else {
            out.push(c);
        }
    }
}

/// Bounds on what the client accepts back; the XML it sent is at most 16 MiB by default.
pub const MAX_HEAD: usize = 64 << 10;
pub const MAX_BODY: usize = 64 << 20;

#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed (only when `eof` was false).
    Incomplete,
    Complete(Response),
    Malformed(&'static str),
}

enum Framing {
    None,
    Length(usize),
    Chunked,
    /// Close-delimited: only accepted for answers that are not a success (see the module doc).
    ToEof,
}

const TRAILING: &str = "bytes after the end of the framed response";

/// Parses a whole response from `buf`; `eof` tells whether the peer has closed.
pub fn parse_response(buf: &[u8], eof: bool) -> Parsed {
    let mut start = 0;
    loop {
        let rest = &buf[start..];
        let Some((head_len, status, framing)) = (match parse_head(rest, eof) {
            Ok(h) => h,
            Err(e) => return Parsed::Malformed(e),
        }) else {
            return Parsed::Incomplete;
        };
        // Interim 1xx responses precede the real one; skip them.
        if (100..200).contains(&status) {
            if status == 101 {
                return Parsed::Malformed("unexpected protocol switch");
            }
            start += head_len;
            continue;
        }
        let body = &rest[head_len..];
        return match framing {
            Framing::None if !body.is_empty() => Parsed::Malformed(TRAILING),
            Framing::None => Parsed::Complete(Response { status, body: Vec::new() }),
            Framing::Length(n) => {
                if body.len() > n {
                    Parsed::Malformed(TRAILING)
                } else if body.len() == n {
                    Parsed::Complete(Response { status, body: body.to_vec() })
                } else if eof {
                    Parsed::Malformed("connection closed before the end of the body")
                } else {
                    Parsed::Incomplete
                }
            }
            Framing::ToEof => {
                if body.len() > MAX_BODY {
                    Parsed::Malformed("response body too large")
                } else if eof {
                    Parsed::Complete(Response { status, body: body.to_vec() })
                } else {
                    Parsed::Incomplete
                }
            }
            Framing::Chunked => match dechunk(body, eof) {
                Ok(Some(body)) => Parsed::Complete(Response { status, body }),
                Ok(None) => Parsed::Incomplete,
                Err(e) => Parsed::Malformed(e),
            },
        };
    }
}

/// Returns (head length including the blank line, status, framing), or `None` if the head
/// is not complete yet.
fn parse_head(buf: &[u8], eof: bool) -> Result<Option<(usize, u16, Framing)>, &'static str> {
    let Some(head_end) = find_blank_line(buf) else {
        if buf.len() > MAX_HEAD {
            return Err("response head too large");
        }
        if eof {
            return Err(if buf.is_empty() { "empty response" } else { "connection closed inside the response head" });
        }
        return Ok(None);
    };
    if head_end > MAX_HEAD {
        return Err("response head too large");
    }
    let mut lines = buf[..head_end].split(|&c| c == b'\n').map(strip_cr);
    let status = parse_status_line(lines.next().unwrap_or(b""))?;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&c| c == b':').ok_or("header line without ':'")?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.is_empty() || !name.iter().all(|&c| is_token(c)) {
            return Err("invalid header name");
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_u64(value).ok_or("invalid Content-Length")?;
            if length.is_some_and(|m| m != n) {
                return Err("conflicting Content-Length headers");
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&c| c == b',').next().map(trim).unwrap_or(b"");
            if !last.eq_ignore_ascii_case(b"chunked") {
                return Err("unsupported Transfer-Encoding");
            }
            chunked = true;
        }
    }
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if chunked {
        if length.is_some() {
            return Err("both Content-Length and Transfer-Encoding");
        }
        Framing::Chunked
    } else if let Some(n) = length {
        if n > MAX_BODY as u64 {
            return Err("response body too large");
        }
        Framing::Length(n as usize)
    } else if (200..300).contains(&status) {
        return Err("a success answer without Content-Length or chunked framing (a cut-off body would look complete)");
    } else {
        Framing::ToEof
    };
    Ok(Some((head_end, status, framing)))
}

/// Index just past the first empty line (`\r\n\r\n` or, leniently, `\n\n`).
fn find_blank_line(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &c) in buf.iter().enumerate() {
        if c == b'\n' {
            if strip_cr(&buf[line_start..i]).is_empty() {
                return Some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `HTTP/1.x NNN[ reason]`
fn parse_status_line(line: &[u8]) -> Result<u16, &'static str> {
    let rest = line.strip_prefix(b"HTTP/1.").ok_or("not an HTTP/1.x response")?;
    match rest {
        [minor, b' ', a, b, c, tail @ ..]
            if minor.is_ascii_digit() && (tail.is_empty() || tail[0] == b' ') && [a, b, c].iter().all(|d| d.is_ascii_digit()) =>
        {
            let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            if code < 100 {
                return Err("invalid status code");
            }
            Ok(code)
        }
        _ => Err("invalid status line"),
    }
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Decodes a chunked body; `Ok(None)` if more bytes are needed.
fn dechunk(buf: &[u8], eof: bool) -> Result<Option<Vec<u8>>, &'static str> {
    let incomplete = |eof: bool| if eof { Err("connection closed inside a chunked body") } else { Ok(None) };
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut total: usize = 0;
    let mut pos = 0;
    loop {
        let Some(nl) = buf[pos..].iter().position(|&c| c == b'\n') else {
            if buf.len() - pos > 1024 {
                return Err("chunk size line too long");
            }
            return incomplete(eof);
        };
        let line = strip_cr(&buf[pos..pos + nl]);
        let size_field = line.split(|&c| c == b';').next().map(trim).unwrap_or(b"");
        let size = parse_hex(size_field).ok_or("invalid chunk size")?;
        pos += nl + 1;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(nl) = buf[pos..].iter().position(|&c| c == b'\n') else {
                    if buf.len() - pos > MAX_HEAD {
                        return Err("chunked trailer too large");
                    }
                    return incomplete(eof);
                };
                let empty = strip_cr(&buf[pos..pos + nl]).is_empty();
                pos += nl + 1;
                if empty {
                    if pos != buf.len() {
                        return Err(TRAILING);
                    }
                    let mut body = Vec::with_capacity(total);
                    for (a, b) in spans {
                        body.extend_from_slice(&buf[a..b]);
                    }
                    return Ok(Some(body));
                }
            }
        }
        total = total.checked_add(size).filter(|&t| t <= MAX_BODY).ok_or("response body too large")?;
        let data_end = pos.checked_add(size).ok_or("response body too large")?;
        // The data must be followed by CRLF (or a bare LF).
        match buf.get(data_end..) {
            Some([b'\r', b'\n', ..]) | Some([b'\n', ..]) => {}
            Some([b'\r']) | Some([]) | None => return incomplete(eof),
            Some(_) => return Err("chunk data not followed by CRLF"),
        }
        spans.push((pos, data_end));
        pos = data_end + if buf[data_end] == b'\r' { 2 } else { 1 };
    }
}

fn parse_hex(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 8 {
        return None; // 8 hex digits already exceed MAX_BODY's range check
    }
    let mut n: usize = 0;
    for &c in s {
        let d = (c as char).to_digit(16)? as usize;
        n = n * 16 + d;
    }
    Some(n)
}

/// The `error` string of a JSON body such as `{"error":"cannot fit 4 dedicated vCPUs"}`,
/// decoded. A small scanner rather than a JSON parser: inside a JSON string a `"` is always
/// escaped, so the token `"error"` followed by `:` can only be a member name.
pub fn json_error_message(body: &[u8]) -> Option<Vec<u8>> {
    let mut from = 0;
    while let Some(i) = find(&body[from..], b"\"error\"") {
        let after = from + i + 7;
        let rest = skip_ws(&body[after..]);
        if let Some(value) = rest.strip_prefix(b":") {
            let value = skip_ws(value);
            return value.strip_prefix(b"\"").and_then(decode_json_string);
        }
        from = after;
    }
    None
}

fn skip_ws(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')).count();
    &s[n..]
}

/// Decodes the rest of a JSON string (after its opening quote) into UTF-8.
fn decode_json_string(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let c = *s.get(i)?;
        i += 1;
        match c {
            b'"' => return Some(out),
            b'\\' => {
                let e = *s.get(i)?;
                i += 1;
                let simple = match e {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        let mut cp = hex4(s.get(i..i + 4)?)?;
                        i += 4;
                        if (0xD800..0xDC00).contains(&cp) && s.get(i..i + 2) == Some(b"\\u") {
                            let low = hex4(s.get(i + 2..i + 6)?)?;
                            if (0xDC00..0xE000).contains(&low) {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                                i += 6;
                            }
                        }
                        let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                        let mut utf8 = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
                        continue;
                    }
                    _ => return None,
                };
                out.push(simple);
            }
            _ => out.push(c),
        }
    }
}

fn hex4(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |n, &c| Some(n * 16 + (c as char).to_digit(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Rng;

    fn complete(status: u16, body: &[u8]) -> Parsed {
        Parsed::Complete(Response { status, body: body.to_vec() })
    }

    #[test]
    fn request_head_carries_the_contract_headers() {
        let facts = RequestFacts { domain: b"default_vm-1", op: b"migrate", cpuset: b"0-3,8", cpuset_source: b"cgroup1" };
        let head = String::from_utf8(request_head(&facts, 1234)).unwrap();
        assert!(head.starts_with("POST /v1/migrate-begin HTTP/1.1\r\nHost: localhost\r\n"));
        for line in [
            "Content-Type: application/xml",
            "Content-Length: 1234",
            "Connection: close",
            "X-Premigration-Op: migrate",
            "X-Premigration-Domain: default_vm-1",
            "X-Premigration-Cpuset: 0-3,8",
            "X-Premigration-Cpuset-Source: cgroup1",
        ] {
            assert!(head.contains(&format!("\r\n{line}\r\n")), "{line} missing in {head:?}");
        }
        assert!(head.ends_with("\r\n\r\n"));
    }

    #[test]
    fn probe_request_is_a_plain_get() {
        let want = format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: premigration-hooks-client/{}\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(String::from_utf8(probe_request()).unwrap(), want);
    }

    #[test]
    fn release_request_is_an_empty_post_naming_the_domain() {
        let want = format!(
            "POST /v1/release-end HTTP/1.1\r\nHost: localhost\r\nUser-Agent: premigration-hooks-client/{}\r\n\
             Content-Length: 0\r\nConnection: close\r\nX-Premigration-Domain: default_vm-1\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(String::from_utf8(release_request(b"default_vm-1")).unwrap(), want);
        let head = String::from_utf8(release_request(b"a\r\nX: y")).unwrap();
        assert!(head.contains("\r\nX-Premigration-Domain: a%0D%0AX: y\r\n\r\n"));
    }

    #[test]
    fn domain_names_cannot_inject_headers() {
        let facts = RequestFacts { domain: "a\r\nX: y%é".as_bytes(), op: b"restore", cpuset: b"0", cpuset_source: b"proc-status" };
        let head = String::from_utf8(request_head(&facts, 0)).unwrap();
        assert!(head.contains("\r\nX-Premigration-Domain: a%0D%0AX: y%25%C3%A9\r\n"));
    }

    const NO_FRAMING: Parsed =
        Parsed::Malformed("a success answer without Content-Length or chunked framing (a cut-off body would look complete)");
    const SHORT: Parsed = Parsed::Malformed("connection closed before the end of the body");

    #[test]
    fn framing_exact_content_length_is_complete() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 7\r\n\r\n<a/>\n..";
        assert_eq!(parse_response(r, false), complete(200, b"<a/>\n.."));
        assert_eq!(parse_response(r, true), complete(200, b"<a/>\n.."));
        let empty = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_response(empty, true), complete(200, b""));
    }

    #[test]
    fn framing_short_content_length_body_is_an_error_at_eof() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n<domain/>";
        assert_eq!(parse_response(r, false), Parsed::Incomplete);
        assert_eq!(parse_response(r, true), SHORT);
        // Every cut of the body, at EOF.
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<domain/>";
        for cut in full.len() - 9..full.len() {
            assert_eq!(parse_response(&full[..cut], true), SHORT, "cut {cut}");
        }
    }

    #[test]
    fn framing_bytes_past_the_content_length_are_an_error() {
        // An undercounting Content-Length would otherwise hand over a cut body as complete.
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n<domain/>";
        assert_eq!(parse_response(r, false), Parsed::Malformed(TRAILING));
        let mut pipelined = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n<a/>".to_vec();
        pipelined.extend_from_slice(b"HTTP/1.1 500");
        assert_eq!(parse_response(&pipelined, false), Parsed::Malformed(TRAILING));
        assert_eq!(parse_response(b"HTTP/1.1 204 No Content\r\n\r\nx", false), Parsed::Malformed(TRAILING));
    }

    #[test]
    fn framing_close_delimited_success_is_refused_before_eof() {
        // No length, not chunked: refused as soon as the head is in, whether or not EOF came.
        for eof in [false, true] {
            assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n\r\n<domain/>", eof), NO_FRAMING);
            assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", eof), NO_FRAMING);
            assert_eq!(parse_response(b"HTTP/1.1 201 Created\r\n\r\n<domain/>", eof), NO_FRAMING);
        }
    }

    #[test]
    fn framing_http_1_0_cut_short_is_an_error() {
        // HTTP/1.0 without a length is close-delimited: EOF cannot prove the body complete.
        let r = b"HTTP/1.0 200 OK\n\n<domain/>";
        assert_eq!(parse_response(r, true), NO_FRAMING);
        assert_eq!(parse_response(&r[..r.len() - 3], true), NO_FRAMING);
        // HTTP/1.0 with a length is held to it.
        let r = b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\n<domain/>";
        assert_eq!(parse_response(r, true), complete(200, b"<domain/>"));
        assert_eq!(parse_response(&r[..r.len() - 2], true), SHORT);
    }

    #[test]
    fn framing_close_delimited_errors_are_still_read_for_their_message() {
        let r = b"HTTP/1.0 500 Oops\r\n\r\n{\"error\":\"boom\"}";
        assert_eq!(parse_response(r, false), Parsed::Incomplete);
        assert_eq!(parse_response(r, true), complete(500, b"{\"error\":\"boom\"}"));
    }

    #[test]
    fn framing_truncated_chunked_body_is_never_complete() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n<dom\r\n5\r\nain/>\r\n0\r\n\r\n";
        assert_eq!(parse_response(r, true), complete(200, b"<domain/>"));
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".len();
        for cut in head..r.len() {
            assert_eq!(parse_response(&r[..cut], false), Parsed::Incomplete, "cut {cut}");
            assert_eq!(parse_response(&r[..cut], true), Parsed::Malformed("connection closed inside a chunked body"), "cut {cut}");
        }
        let mut extra = r.to_vec();
        extra.push(b'x');
        assert_eq!(parse_response(&extra, false), Parsed::Malformed(TRAILING));
    }

    #[test]
    fn framing_chunked_with_trailers_is_complete_only_after_the_blank_line() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n<domain/>\r\n0\r\nX-Changes: 1\r\nX-Other: 2\r\n\r\n";
        assert_eq!(parse_response(r, false), complete(200, b"<domain/>"));
        let no_blank = &r[..r.len() - 2];
        assert_eq!(parse_response(no_blank, false), Parsed::Incomplete);
        assert_eq!(parse_response(no_blank, true), Parsed::Malformed("connection closed inside a chunked body"));
    }

    #[test]
    fn no_content_and_refusal() {
        assert_eq!(parse_response(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", false), complete(204, b""));
        let r = b"HTTP/1.1 422 Unprocessable Entity\r\ncontent-length: 31\r\n\r\n{\"error\":\"cannot fit 4 vCPUs\"}\n";
        let Parsed::Complete(resp) = parse_response(r, true) else { panic!("not complete") };
        assert_eq!(resp.status, 422);
        assert_eq!(json_error_message(&resp.body).unwrap(), b"cannot fit 4 vCPUs");
    }

    #[test]
    fn chunked_bodies() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n<dom\r\n3;ext=1\r\nain\r\n2\r\n/>\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(parse_response(r, false), complete(200, b"<domain/>"));
        for cut in 45..r.len() {
            assert_eq!(parse_response(&r[..cut], false), Parsed::Incomplete, "cut {cut}");
            assert!(matches!(parse_response(&r[..cut], true), Parsed::Malformed(_)), "cut {cut}");
        }
        let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n<domXX";
        assert_eq!(parse_response(bad, false), Parsed::Malformed("chunk data not followed by CRLF"));
        let both = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(parse_response(both, false), Parsed::Malformed("both Content-Length and Transfer-Encoding"));
        let gzip = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert_eq!(parse_response(gzip, false), Parsed::Malformed("unsupported Transfer-Encoding"));
    }

    #[test]
    fn interim_responses_are_skipped() {
        let r = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse_response(r, false), complete(204, b""));
        assert_eq!(parse_response(b"HTTP/1.1 101 Switching\r\n\r\n", false), Parsed::Malformed("unexpected protocol switch"));
    }

    #[test]
    fn malformed_heads() {
        for (r, why) in [
            (&b""[..], "empty response"),
            (b"HTTP/1.1 200 OK\r\nContent-Le", "connection closed inside the response head"),
            (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x response"),
            (b"HTTP/1.1 20 OK\r\n\r\n", "invalid status line"),
            (b"HTTP/1.1 2000 OK\r\n\r\n", "invalid status line"),
            (b"HTTP/1.1 099 X\r\n\r\n", "invalid status code"),
            (b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n", "header line without ':'"),
            (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "invalid header name"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting Content-Length headers"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "response body too large"),
        ] {
            assert_eq!(parse_response(r, true), Parsed::Malformed(why), "{:?}", String::from_utf8_lossy(r));
        }
        let huge = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &vec![b'a'; MAX_HEAD + 1]].concat();
        assert_eq!(parse_response(&huge, false), Parsed::Malformed("response head too large"));
    }

    #[test]
    fn json_error_extraction() {
        assert_eq!(json_error_message(br#"{"error":"a\"b\\c\nd\u00e9\ud83d\ude00"}"#).unwrap(), "a\"b\\c\nd\u{e9}\u{1F600}".as_bytes());
        assert_eq!(json_error_message(br#"{"code":"error","error" : "x"}"#).unwrap(), b"x");
        assert_eq!(json_error_message(br#"{"detail":"\"error\": no","error":"yes"}"#).unwrap(), b"yes");
        assert_eq!(json_error_message(br#"{"error":42}"#), None);
        assert_eq!(json_error_message(br#"{"error":"unterminated"#), None);
        assert_eq!(json_error_message(b"not json"), None);
    }

    /// Checks the invariants the I/O loop relies on, whatever the input.
    fn check(buf: &[u8]) {
        for eof in [false, true] {
            match parse_response(buf, eof) {
                Parsed::Complete(r) => {
                    assert!((100..1000).contains(&r.status));
                    assert!(r.body.len() <= buf.len());
                }
                Parsed::Incomplete => assert!(!eof, "Incomplete at EOF for {buf:?}"),
                Parsed::Malformed(_) => {}
            }
        }
        let _ = json_error_message(buf);
    }

    #[test]
    fn never_panics_on_random_bytes() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        // Bytes biased toward the ones that matter to the grammar.
        const ALPHABET: &[u8] = b"HTTP/1.0 2045\r\n:;-,\"\\uchunkedContent-LengthTransfer-Encoding{}error0123456789abcdefX";
        for _ in 0..20_000 {
            let len = rng.below(200);
            let biased = rng.below(2) == 0;
            let buf: Vec<u8> = (0..len).map(|_| if biased { ALPHABET[rng.below(ALPHABET.len())] } else { rng.next() as u8 }).collect();
            check(&buf);
            let mut prefixed = b"HTTP/1.1 200 OK\r\n".to_vec();
            prefixed.extend_from_slice(&buf);
            check(&prefixed);
        }
    }

    #[test]
    fn never_panics_on_truncated_or_mutated_valid_responses() {
        let valid: [&[u8]; 5] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<domain/>",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n<dom\r\n5\r\nain/>\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 21\r\n\r\n{\"error\":\"\\u00e9 no\"}",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 500 Oops\r\n\r\nboom",
        ];
        const INSERTS: &[u8] = b"\r\n0:;-\"\\f";
        let mut rng = Rng(42);
        for v in valid {
            for cut in 0..=v.len() {
                check(&v[..cut]);
            }
            for _ in 0..5_000 {
                let mut m = v.to_vec();
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(m.len());
                    match rng.below(4) {
                        0 => m[i] = rng.next() as u8,
                        1 => {
                            m.remove(i);
                        }
                        2 => m.insert(i, INSERTS[rng.below(INSERTS.len())]),
                        _ => m.truncate(i),
                    }
                    if m.is_empty() {
                        break;
                    }
                }
                check(&m);
            }
        }
    }
}
