//! Which libvirt hook calls the client acts on.
//!
//! libvirt runs every qemu hook at every VM start, stop, reconnect and migration with
//! `<domain> <op> <subop> <extra>`; only `migrate begin` and `restore begin` read stdout.
//! Everything else must return at once without reading a file or touching the socket.

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
}

/// `args` excludes argv[0].
pub fn route<'a>(args: &[&'a [u8]]) -> Route<'a> {
    match args {
        [flag] if *flag == b"--version" => Route::Version,
        [domain, op, subop, _extra, ..] if *subop == b"begin" => match *op {
            b"migrate" => Route::Filter { domain, op: XmlOp::Migrate },
            b"restore" => Route::Filter { domain, op: XmlOp::Restore },
            _ => Route::Ignore,
        },
        _ => Route::Ignore,
    }
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
            ["vm", "release", "end", "-"],
            ["vm", "release", "end", "migrated"],
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
    fn short_or_empty_argv_is_ignored() {
        assert_eq!(r(&[]), Route::Ignore);
        assert_eq!(r(&["vm"]), Route::Ignore);
        assert_eq!(r(&["vm", "migrate", "begin"]), Route::Ignore);
        assert_eq!(r(&["--version"]), Route::Version);
        assert_eq!(r(&["--version", "migrate", "begin", "-"]), Route::Filter { domain: b"--version", op: XmlOp::Migrate });
    }
}
