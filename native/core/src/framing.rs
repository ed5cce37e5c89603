//! The frame of every saved state: an 8-byte magic, a `u32` version, a little-endian body, and a
//! CRC-32 of all before it; with a reader of the body whose every step is bounds-checked, so that
//! cut or changed bytes are refused, never a panic. The core's stream state uses it, and so does
//! trendflex-io's state file.

/// Why a frame cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not this magic, or a version this build does not read.
    Foreign(String),
    /// Cut short or changed: the checksum does not match, or the body contradicts itself.
    Corrupt(String),
}

/// A new frame: its magic and version written, the body to follow.
pub fn begin(magic: &[u8; 8], version: u32) -> Vec<u8> {
    let mut b = magic.to_vec();
    b.extend_from_slice(&version.to_le_bytes());
    b
}

/// Ends a frame with the CRC-32 of everything before it.
pub fn seal(mut b: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// A reader of a frame's body, once magic, version and checksum were checked.
pub fn open<'a>(bytes: &'a [u8], magic: &[u8; 8], version: u32) -> Result<Reader<'a>, FrameError> {
    if !bytes.starts_with(magic) {
        return Err(FrameError::Foreign(format!(
            "it does not start with {}",
            String::from_utf8_lossy(magic)
        )));
    }
    let head = magic.len() + 4;
    if bytes.len() < head {
        return Err(FrameError::Corrupt("it ends inside its header".into()));
    }
    let found = u32::from_le_bytes(bytes[magic.len()..head].try_into().expect("4 bytes"));
    if found != version {
        return Err(FrameError::Foreign(format!(
            "version {found}, and this build reads version {version} (made by another trendflex \
             release?)"
        )));
    }
    if bytes.len() < head + 4 {
        return Err(FrameError::Corrupt("it ends inside its header".into()));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != u32::from_le_bytes(sum.try_into().expect("4 bytes")) {
        return Err(FrameError::Corrupt(format!(
            "its checksum does not match ({} bytes; cut short or changed?)",
            bytes.len()
        )));
    }
    Ok(Reader {
        bytes: body,
        at: head,
    })
}

/// Appends a count as `u32` (counts here always fit).
pub fn put_u32(b: &mut Vec<u8>, n: usize) {
    b.extend_from_slice(&u32::try_from(n).expect("counts fit u32").to_le_bytes());
}

/// Appends bytes with their `u32` length in front.
pub fn put_bytes(b: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(b, bytes.len());
    b.extend_from_slice(bytes);
}

/// Reads a frame's body in order; every read past its end is a [`FrameError::Corrupt`].
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| FrameError::Corrupt(format!("it ends at byte {}", self.bytes.len())))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    pub fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    pub fn f64(&mut self) -> Result<f64, FrameError> {
        Ok(f64::from_bits(self.u64()?))
    }

    /// Bytes with their `u32` length in front (as [`put_bytes`] wrote them).
    pub fn bytes(&mut self) -> Result<&'a [u8], FrameError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// A `u32` count of items of at least `size` bytes each, checked against what is left, so a
    /// corrupt count cannot ask for a huge allocation.
    pub fn count(&mut self, size: usize) -> Result<usize, FrameError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(size) > self.bytes.len() - self.at {
            return Err(FrameError::Corrupt(format!("a count of {n} past its end")));
        }
        Ok(n)
    }

    /// The body must end here.
    pub fn finish(self) -> Result<(), FrameError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            left => Err(FrameError::Corrupt(format!("{left} bytes after its end"))),
        }
    }
}
