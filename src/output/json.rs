//! JSON on stdout for `plan --format json`: serde_json's pretty layout, written fast.

use std::io::Write;

/// Prints `value` as pretty JSON and a line break on stdout, through the console. A closed
/// pipe (`| head`) ends the output quietly. The console's buffer is large so that a plan of
/// megabytes takes tens of writes, not thousands.
pub fn print_pretty(value: &impl serde::Serialize) {
    let mut out = super::console::Buffered::stdout();
    let mut json = serde_json::Serializer::with_formatter(&mut out, Pretty::default());
    let _ = value
        .serialize(&mut json)
        .map_err(std::io::Error::from)
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.finish());
}

/// serde_json's pretty printing (`to_writer_pretty`, two spaces), byte for byte, but
/// each line break and its indentation written in one piece instead of one write per
/// level: a plan of tens of thousands of URLs has that many lines.
#[derive(Default)]
pub struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    /// `,` (when `comma`), a line break and the current indentation.
    fn line<W: ?Sized + std::io::Write>(&self, w: &mut W, comma: bool) -> std::io::Result<()> {
        // A write of constant length per depth copies with a few moves; one of a length known
        // only at run time calls `memcpy`, which musl (the static binary's libc) makes slow
        // for short copies, and a plan writes a line per URL.
        match self.depth {
            0 => line::<W, 0>(w, comma),
            1 => line::<W, 1>(w, comma),
            2 => line::<W, 2>(w, comma),
            3 => line::<W, 3>(w, comma),
            4 => line::<W, 4>(w, comma),
            5 => line::<W, 5>(w, comma),
            depth => {
                line::<W, 0>(w, comma)?;
                (0..depth).try_for_each(|_| w.write_all(b"  "))
            }
        }
    }
}

/// [`Pretty::line`] at `DEPTH`.
fn line<W: ?Sized + std::io::Write, const DEPTH: usize>(
    w: &mut W,
    comma: bool,
) -> std::io::Result<()> {
    const LINE: &[u8] = b",\n          ";
    let line = &LINE[..2 + 2 * DEPTH];
    if comma {
        w.write_all(line)
    } else {
        w.write_all(&line[1..])
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(w, false)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line(w, !first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(w, false)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line(w, !first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[test]
    fn the_layout_is_serde_json_pretty_byte_for_byte() {
        let deep = (0..40).fold(
            serde_json::json!("x"),
            |v, i| serde_json::json!({ format!("k{i}"): [v, [], {}] }),
        );
        let values = [
            serde_json::json!({"a": [1, 2, {"b": null}], "c": {}, "d": [], "e": "s"}),
            serde_json::json!([]),
            serde_json::json!({"urls": (0..50).map(|i| format!("https://e.com/{i}")).collect::<Vec<_>>()}),
            deep,
        ];
        for v in values {
            let mut ours = Vec::new();
            v.serialize(&mut serde_json::Serializer::with_formatter(
                &mut ours,
                Pretty::default(),
            ))
            .unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string_pretty(&v).unwrap()
            );
        }
    }
}
