//! Reads a request body the way Go's `json.NewDecoder(body).Decode(&v)` does, so that
//! the `details` of a 400 carry Go's exact texts (`EOF`, `unexpected EOF`,
//! `invalid character 'x' looking for beginning of value`, …).
//!
//! Like Go's decoder it reads only the first JSON value and ignores whatever follows it.
//! The result keeps object members in document order, as Go's decoder visits them.

/// A decoded JSON value, members in document order.
#[derive(Clone, Debug, PartialEq)]
pub enum GoValue {
    Null,
    Bool(bool),
    /// The number's text.
    Number(String),
    String(String),
    Array(Vec<GoValue>),
    Object(Vec<(String, GoValue)>),
}

impl GoValue {
    /// How Go's `UnmarshalTypeError` names this kind of value.
    pub fn go_kind(&self) -> &'static str {
        match self {
            GoValue::Null => "null",
            GoValue::Bool(_) => "bool",
            GoValue::Number(_) => "number",
            GoValue::String(_) => "string",
            GoValue::Array(_) => "array",
            GoValue::Object(_) => "object",
        }
    }
}

/// Decodes the first value of `bytes`; the error is Go's error text.
pub fn decode(bytes: &[u8]) -> Result<GoValue, String> {
    let mut reader = Reader { bytes, pos: 0 };
    reader.skip_space();
    if reader.pos >= bytes.len() {
        return Err("EOF".to_owned());
    }
    reader.value()
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// Go's scanner error for byte `c` in a context.
fn invalid(c: u8, context: &str) -> String {
    format!("invalid character {} {context}", quote_char(c))
}

/// Go's `quoteChar`: `'\''`, `'"'`, else the byte as a rune, quoted like
/// `strconv.Quote` but with single quotes.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_owned(),
        b'"' => "'\"'".to_owned(),
        0x07 => "'\\a'".to_owned(),
        0x08 => "'\\b'".to_owned(),
        0x0c => "'\\f'".to_owned(),
        b'\n' => "'\\n'".to_owned(),
        b'\r' => "'\\r'".to_owned(),
        b'\t' => "'\\t'".to_owned(),
        0x0b => "'\\v'".to_owned(),
        b'\\' => "'\\\\'".to_owned(),
        c if c < 0x20 || c == 0x7f => format!("'\\x{c:02x}'"),
        // Go reads the byte as rune U+0080..U+00FF; the non-printable ones are escaped.
        c if (0x80..=0xa0).contains(&c) || c == 0xad => format!("'\\u{:04x}'", u32::from(c)),
        c => format!("'{}'", char::from(c)),
    }
}

const UNEXPECTED_EOF: &str = "unexpected EOF";

impl Reader<'_> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Result<u8, String> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| UNEXPECTED_EOF.to_owned())
    }

    fn next(&mut self) -> Result<u8, String> {
        let c = self.peek()?;
        self.pos += 1;
        Ok(c)
    }

    /// A value, the reader at its first byte (spaces already skipped).
    fn value(&mut self) -> Result<GoValue, String> {
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                self.object()
            }
            b'[' => {
                self.pos += 1;
                self.array()
            }
            b'"' => {
                self.pos += 1;
                Ok(GoValue::String(self.string()?))
            }
            b't' => self.literal("true", GoValue::Bool(true)),
            b'f' => self.literal("false", GoValue::Bool(false)),
            b'n' => self.literal("null", GoValue::Null),
            b'-' | b'0'..=b'9' => self.number(),
            c => Err(invalid(c, "looking for beginning of value")),
        }
    }

    fn object(&mut self) -> Result<GoValue, String> {
        let mut members = Vec::new();
        self.skip_space();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Ok(GoValue::Object(members));
        }
        loop {
            match self.next()? {
                b'"' => {}
                c => return Err(invalid(c, "looking for beginning of object key string")),
            }
            let key = self.string()?;
            self.skip_space();
            match self.next()? {
                b':' => {}
                c => return Err(invalid(c, "after object key")),
            }
            self.skip_space();
            let value = self.value()?;
            members.push((key, value));
            self.skip_space();
            match self.next()? {
                b',' => self.skip_space(),
                b'}' => return Ok(GoValue::Object(members)),
                c => return Err(invalid(c, "after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Result<GoValue, String> {
        let mut items = Vec::new();
        self.skip_space();
        if self.peek()? == b']' {
            self.pos += 1;
            return Ok(GoValue::Array(items));
        }
        loop {
            self.skip_space();
            items.push(self.value()?);
            self.skip_space();
            match self.next()? {
                b',' => {}
                b']' => return Ok(GoValue::Array(items)),
                c => return Err(invalid(c, "after array element")),
            }
        }
    }

    /// The rest of a string literal, after its opening quote. Invalid UTF-8 becomes
    /// U+FFFD, as in Go.
    fn string(&mut self) -> Result<String, String> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            match self.next()? {
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => self.escape(&mut out)?,
                c if c < 0x20 => return Err(invalid(c, "in string literal")),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let simple = match self.next()? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let unit = self.hex4()?;
                let ch = if (0xd800..0xdc00).contains(&unit) {
                    // A high surrogate pairs with an immediately following `\uDC00..`.
                    let low = self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u");
                    let saved = self.pos;
                    let paired = if low {
                        self.pos += 2;
                        let next = self.hex4()?;
                        (0xdc00..0xe000).contains(&next).then(|| {
                            0x10000
                                + ((u32::from(unit) - 0xd800) << 10)
                                + (u32::from(next) - 0xdc00)
                        })
                    } else {
                        None
                    };
                    if paired.is_none() {
                        self.pos = saved;
                    }
                    paired.and_then(char::from_u32).unwrap_or('\u{fffd}')
                } else {
                    char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}')
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                return Ok(());
            }
            c => return Err(invalid(c, "in string escape code")),
        };
        out.push(simple);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u16, String> {
        let mut unit: u16 = 0;
        for _ in 0..4 {
            let c = self.next()?;
            let digit = char::from(c)
                .to_digit(16)
                .ok_or_else(|| invalid(c, "in \\u hexadecimal character escape"))?;
            // Four hex digits fit in u16.
            unit = (unit << 4) | digit as u16;
        }
        Ok(unit)
    }

    fn literal(&mut self, word: &'static str, value: GoValue) -> Result<GoValue, String> {
        self.pos += 1;
        for expected in word.bytes().skip(1) {
            let c = self.next()?;
            if c != expected {
                let context = format!("in literal {word} (expecting {})", quote_char(expected));
                return Err(invalid(c, &context));
            }
        }
        Ok(value)
    }

    fn number(&mut self) -> Result<GoValue, String> {
        let start = self.pos;
        if self.peek()? == b'-' {
            self.pos += 1;
            let c = self.peek()?;
            if !c.is_ascii_digit() {
                return Err(invalid(c, "in numeric literal"));
            }
        }
        if self.next()? != b'0' {
            self.digits();
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            let c = self.peek()?;
            if !c.is_ascii_digit() {
                return Err(invalid(c, "after decimal point in numeric literal"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            let c = self.peek()?;
            if !c.is_ascii_digit() {
                return Err(invalid(c, "in exponent of numeric literal"));
            }
            self.digits();
        }
        let text = String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned();
        Ok(GoValue::Number(text))
    }

    fn digits(&mut self) {
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        decode(text.as_bytes()).expect_err("should fail")
    }

    #[test]
    fn go_error_texts() {
        assert_eq!(error(""), "EOF");
        assert_eq!(error("  \n"), "EOF");
        assert_eq!(error("{\"title\": \"x\""), "unexpected EOF");
        assert_eq!(
            error("x"),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            error("{title: 1}"),
            "invalid character 't' looking for beginning of object key string"
        );
        assert_eq!(error("{\"a\" 1}"), "invalid character '1' after object key");
        assert_eq!(
            error("{\"a\": 1 \"b\": 2}"),
            "invalid character '\"' after object key:value pair"
        );
        assert_eq!(error("[1 2]"), "invalid character '2' after array element");
        assert_eq!(
            error("{\"a\": tru}"),
            "invalid character '}' in literal true (expecting 'e')"
        );
        assert_eq!(
            error("{\"a\": -x}"),
            "invalid character 'x' in numeric literal"
        );
        assert_eq!(
            error("{\"a\": \"\n\"}"),
            "invalid character '\\n' in string literal"
        );
    }

    #[test]
    fn members_keep_their_order_and_trailing_bytes_are_ignored() {
        let value = decode(br#"{"b": [1, "\u4e2d\ud83d\ude00"], "a": null} trailing"#);
        assert_eq!(
            value,
            Ok(GoValue::Object(vec![
                (
                    "b".to_owned(),
                    GoValue::Array(vec![
                        GoValue::Number("1".to_owned()),
                        GoValue::String("中😀".to_owned()),
                    ])
                ),
                ("a".to_owned(), GoValue::Null),
            ]))
        );
    }
}
