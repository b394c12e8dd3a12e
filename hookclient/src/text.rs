//! Byte-string helpers. The client avoids `core::fmt` (it costs binary size and every
//! message here is a fixed phrase plus a few numbers), so these do the little formatting needed.

use alloc::vec::Vec;

/// Appends the decimal form of `n`.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Parses a non-empty run of ASCII digits; `None` on anything else or on overflow.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

pub fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c')
}

pub fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| !is_space(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|&c| !is_space(c)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// Finds the first occurrence of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if hay.len() < needle.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// Splits `s` into lines on `\n`; a trailing `\r` stays (callers trim).
pub fn lines(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&c| c == b'\n')
}

/// Copies `s` for a one-line diagnostic: control bytes become spaces, and the result is
/// cut to `max` bytes without splitting a UTF-8 sequence.
pub fn push_one_line(out: &mut Vec<u8>, s: &[u8], max: usize) {
    let mut end = s.len().min(max);
    // Back off to a UTF-8 boundary (continuation bytes are 0b10xx_xxxx).
    while end < s.len() && end > 0 && (s[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    for &c in &s[..end] {
        out.push(if c < 0x20 || c == 0x7f { b' ' } else { c });
    }
    if end < s.len() {
        out.extend_from_slice(b"...");
    }
}

/// xorshift64*: a deterministic generator for the fuzz-style tests, so a failure is
/// reproducible from its seed.
#[cfg(test)]
pub struct Rng(pub u64);

#[cfg(test)]
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trip() {
        for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
            let mut v = Vec::new();
            push_u64(&mut v, n);
            assert_eq!(v, n.to_string().into_bytes());
            assert_eq!(parse_u64(&v), if n == u64::MAX { None } else { Some(n) });
        }
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"9999999999999999999"), Some(9_999_999_999_999_999_999));
    }

    #[test]
    fn trims_and_finds() {
        assert_eq!(trim(b"  a b \r\n"), b"a b");
        assert_eq!(trim(b" \t "), b"");
        assert_eq!(find(b"abcabc", b"ca"), Some(2));
        assert_eq!(find(b"ab", b"abc"), None);
    }

    #[test]
    fn one_line_sanitizes_and_cuts_on_char_boundary() {
        let mut v = Vec::new();
        push_one_line(&mut v, b"a\nb\tc", 100);
        assert_eq!(v, b"a b c");
        let mut v = Vec::new();
        push_one_line(&mut v, "xé".as_bytes(), 2); // 'é' is 2 bytes: cut before it
        assert_eq!(v, b"x...");
    }
}
