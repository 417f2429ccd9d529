//! Random access to an age payload, for the server's playback: the header
//! is opened once (stanzas parsed by `age-core`, the file key unwrapped by
//! the `age` identity, the header MAC checked), then any 64 KiB STREAM chunk
//! is decrypted in place with ring's ChaCha20-Poly1305.
//!
//! Why not `age::stream::StreamReader`: it copies each chunk twice and
//! zeroes it once more on the way out, and RustCrypto's ChaCha20 is several
//! times slower than ring's (BoringSSL's assembly) on this class of machine;
//! decryption was most of the server's CPU when serving video (ADR 0005).
//! The construction is age's, unchanged (age-encryption.org/v1, "Payload"):
//! key = HKDF-SHA-256(ikm = file key, salt = 16-byte nonce, info = "payload"),
//! chunk nonce = 11-byte big-endian counter ‖ last-chunk flag. Tests hold it
//! to the `age` crate on random files, truncations and forgeries.

use age::secrecy::ExposeSecret;
use age_core::format::Stanza;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};

use crate::FormatError;

/// Plaintext bytes per STREAM chunk.
pub const CHUNK: usize = 64 * 1024;
/// Ciphertext bytes per full STREAM chunk (plaintext + 16-byte tag).
pub const ENCRYPTED_CHUNK: usize = CHUNK + TAG;
const TAG: usize = 16;
/// The payload starts with this many bytes of nonce (the HKDF salt).
pub const PAYLOAD_NONCE: usize = 16;
const INTRO: &[u8] = b"age-encryption.org/v1\n";
const MAC_PREFIX: &[u8] = b"---";

fn decrypt_error(what: &str) -> FormatError {
    FormatError::Decrypt(what.to_owned())
}

/// An opened payload: decrypts chunks by index.
pub struct Payload {
    key: LessSafeKey,
    /// Where chunk 0 starts in the file: header + nonce.
    payload_start: u64,
    /// Ciphertext bytes after `payload_start`.
    payload_length: u64,
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("payload_start", &self.payload_start)
            .field("payload_length", &self.payload_length)
            .finish_non_exhaustive()
    }
}

impl Payload {
    /// Opens the payload of an age file of `file_length` bytes whose header
    /// is `header` (exactly, through the MAC line) and whose payload nonce
    /// is `nonce`, with `identity`.
    pub fn open(
        header: &[u8],
        nonce: &[u8; PAYLOAD_NONCE],
        file_length: u64,
        identity: &dyn age::Identity,
    ) -> Result<Self, FormatError> {
        let ParsedHeader {
            stanzas,
            covered: mac_input,
            mac,
        } = parse_header(header)?;
        let file_key = identity
            .unwrap_stanzas(&stanzas)
            .ok_or_else(|| decrypt_error("no stanza for this identity"))?
            .map_err(|e| FormatError::Decrypt(e.to_string()))?;
        let file_key = file_key.expose_secret();
        let mac_key = age_core::primitives::hkdf(&[], b"header", file_key);
        ring::hmac::verify(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &mac_key),
            mac_input,
            &mac,
        )
        .map_err(|_| decrypt_error("header MAC does not verify"))?;
        let payload_key =
            zeroize::Zeroizing::new(age_core::primitives::hkdf(nonce, b"payload", file_key));
        let key = LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &payload_key[..])
                .map_err(|_| decrypt_error("payload key"))?,
        );
        let payload_start = header.len() as u64 + PAYLOAD_NONCE as u64;
        let payload_length = file_length
            .checked_sub(payload_start)
            .filter(|n| *n >= TAG as u64)
            .ok_or_else(|| decrypt_error("file shorter than its header, nonce and one tag"))?;
        Ok(Self {
            key,
            payload_start,
            payload_length,
        })
    }

    /// How many chunks the payload has.
    pub fn chunks(&self) -> u64 {
        self.payload_length.div_ceil(ENCRYPTED_CHUNK as u64)
    }

    /// The file offset and ciphertext length of chunk `index`.
    pub fn chunk_span(&self, index: u64) -> (u64, usize) {
        let from = index * ENCRYPTED_CHUNK as u64;
        let length = (self.payload_length.saturating_sub(from)).min(ENCRYPTED_CHUNK as u64);
        (self.payload_start + from, length as usize)
    }

    /// Decrypts chunk `index` in place; returns the plaintext length (the
    /// plaintext is `chunk[..n]`). A short chunk must be the last one; a full
    /// chunk is tried as a middle chunk and, if it is the file's final chunk,
    /// then as the last (exactly as age's reader does). A final full chunk
    /// that is *not* marked last is a file cut at a chunk boundary (a camera's
    /// power loss): it opens, and the file is known to be truncated.
    pub fn decrypt_chunk(&self, index: u64, chunk: &mut [u8]) -> Result<usize, FormatError> {
        let (_, expected) = self.chunk_span(index);
        if index >= self.chunks() || chunk.len() != expected {
            return Err(decrypt_error("chunk index or length out of range"));
        }
        let is_final = index + 1 == self.chunks();
        if chunk.len() < ENCRYPTED_CHUNK {
            return self.open_chunk(index, true, chunk);
        }
        if !is_final {
            return self.open_chunk(index, false, chunk);
        }
        // ring leaves a buffer that failed to open unusable: keep a copy for the second try.
        let copy = chunk.to_vec();
        match self.open_chunk(index, false, chunk) {
            Ok(n) => Ok(n),
            Err(_) => {
                chunk.copy_from_slice(&copy);
                self.open_chunk(index, true, chunk)
            }
        }
    }

    fn open_chunk(&self, index: u64, last: bool, chunk: &mut [u8]) -> Result<usize, FormatError> {
        let mut nonce = [0u8; 12];
        nonce[3..11].copy_from_slice(&index.to_be_bytes());
        nonce[11] = last as u8;
        let plaintext = self
            .key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), chunk)
            .map_err(|_| decrypt_error("a chunk does not authenticate"))?;
        let n = plaintext.len();
        if last && n == 0 && index > 0 {
            // age: a last chunk may be empty only in an empty file.
            return Err(decrypt_error("empty last chunk"));
        }
        Ok(n)
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/payload_open.rs`): any bytes as a
/// header, nonce and chunk must give an error, never a panic. The identity is
/// fixed, so a parsed header then fails to unwrap, or (for the seed file's
/// own header) opens and decrypts.
pub fn fuzz_payload_open(data: &[u8]) {
    use std::str::FromStr;
    // The test vectors' evidence identity (test-vectors/evidence-identity.txt).
    let identity = age::x25519::Identity::from_str(
        "AGE-SECRET-KEY-1ZQZ2V7TN60W3KG0EVYS0DKAYQPWKKNSZ920EPE6UFL25VK8SXK2SSULX4U",
    )
    .expect("a valid identity");
    let header_end = data
        .windows(4)
        .position(|w| w == b"\n---")
        .and_then(|i| {
            data[i + 1..]
                .iter()
                .position(|b| *b == b'\n')
                .map(|j| i + 2 + j)
        })
        .unwrap_or(data.len().min(200));
    let (header, rest) = data.split_at(header_end);
    let mut nonce = [0u8; PAYLOAD_NONCE];
    let n = rest.len().min(PAYLOAD_NONCE);
    nonce[..n].copy_from_slice(&rest[..n]);
    if let Ok(payload) = Payload::open(header, &nonce, data.len() as u64, &identity) {
        for index in 0..payload.chunks().min(4) {
            let (at, length) = payload.chunk_span(index);
            if let Some(chunk) = data.get(at as usize..at as usize + length) {
                let _ = payload.decrypt_chunk(index, &mut chunk.to_vec());
            }
        }
    }
}

/// An age header taken apart: its stanzas, the bytes its MAC covers, the MAC.
struct ParsedHeader<'a> {
    stanzas: Vec<Stanza>,
    covered: &'a [u8],
    mac: [u8; 32],
}

fn parse_header(header: &[u8]) -> Result<ParsedHeader<'_>, FormatError> {
    let malformed = || decrypt_error("malformed age header");
    let mut rest = header.strip_prefix(INTRO).ok_or_else(malformed)?;
    let mut stanzas = Vec::new();
    while !rest.starts_with(MAC_PREFIX) {
        let (after, stanza) = age_core::format::read::age_stanza(rest).map_err(|_| malformed())?;
        stanzas.push(Stanza::from(stanza));
        rest = after;
    }
    let covered = header.len() - rest.len() + MAC_PREFIX.len();
    let line = rest[MAC_PREFIX.len()..]
        .strip_prefix(b" ")
        .and_then(|l| l.strip_suffix(b"\n"))
        .ok_or_else(malformed)?;
    use base64::Engine;
    let mac = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(line)
        .ok()
        .and_then(|m| <[u8; 32]>::try_from(m).ok())
        .ok_or_else(malformed)?;
    if stanzas.is_empty() {
        return Err(malformed());
    }
    Ok(ParsedHeader {
        stanzas,
        covered: &header[..covered],
        mac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn encrypt(recipient: &age::x25519::Recipient, plaintext: &[u8]) -> Vec<u8> {
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
                .unwrap();
        let mut file = Vec::new();
        let mut w = encryptor.wrap_output(&mut file).unwrap();
        w.write_all(plaintext).unwrap();
        w.finish().unwrap();
        file
    }

    /// Where the header ends, if a flipped bit left it one.
    fn header_end(file: &[u8]) -> Option<usize> {
        let mac_line = file.windows(4).position(|w| w == b"\n---")? + 1;
        Some(mac_line + file[mac_line..].iter().position(|b| *b == b'\n')? + 1)
    }

    fn header_length(file: &[u8]) -> usize {
        header_end(file).expect("an age header")
    }

    /// Every chunk, as this module decrypts them.
    fn decrypt_all(file: &[u8], identity: &age::x25519::Identity) -> Result<Vec<u8>, FormatError> {
        // A bit flipped in the MAC line's newline leaves no header to find:
        // refused like any other damage (this was a flaky panic).
        let h = header_end(file).ok_or_else(|| decrypt_error("no header"))?;
        let nonce: [u8; 16] = file
            .get(h..h + 16)
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| decrypt_error("short"))?;
        let payload = Payload::open(&file[..h], &nonce, file.len() as u64, identity)?;
        let mut out = Vec::new();
        for i in 0..payload.chunks() {
            let (from, len) = payload.chunk_span(i);
            let mut chunk = file[from as usize..from as usize + len].to_vec();
            let n = payload.decrypt_chunk(i, &mut chunk)?;
            out.extend_from_slice(&chunk[..n]);
        }
        Ok(out)
    }

    fn with_age(file: &[u8], identity: &age::x25519::Identity) -> Result<Vec<u8>, ()> {
        let d = age::Decryptor::new(file).map_err(|_| ())?;
        let mut r = d
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .map_err(|_| ())?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(|_| ())?;
        Ok(out)
    }

    #[test]
    fn decrypts_exactly_what_age_decrypts_at_every_chunk_boundary() {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        for size in [
            0usize,
            1,
            100,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK,
            3 * CHUNK + 7,
        ] {
            let plaintext: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let file = encrypt(&recipient, &plaintext);
            assert_eq!(decrypt_all(&file, &identity).unwrap(), plaintext, "{size}");
            assert_eq!(with_age(&file, &identity).unwrap(), plaintext, "{size}");
        }
    }

    #[test]
    fn the_fuzz_entry_point_survives_garbage_and_opens_the_vector() {
        let vector = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../test-vectors/recording-1.age"
        ))
        .unwrap();
        fuzz_payload_open(&vector);
        // The entry point's identity really opens the vector (so fuzzing
        // from it reaches chunk decryption, not only header parsing).
        use std::str::FromStr;
        let identity = age::x25519::Identity::from_str(
            "AGE-SECRET-KEY-1ZQZ2V7TN60W3KG0EVYS0DKAYQPWKKNSZ920EPE6UFL25VK8SXK2SSULX4U",
        )
        .unwrap();
        assert_eq!(
            decrypt_all(&vector, &identity).unwrap(),
            with_age(&vector, &identity).unwrap()
        );
        use rand::Rng;
        let mut rng = rand::thread_rng();
        for _ in 0..2000 {
            let mut bad = vector[..vector.len().min(400)].to_vec();
            let i = rng.gen_range(0..bad.len());
            bad[i] = rng.gen();
            bad.truncate(rng.gen_range(0..bad.len() + 1));
            fuzz_payload_open(&bad);
        }
        fuzz_payload_open(b"");
    }

    #[test]
    fn refuses_what_age_refuses() {
        let identity = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let plaintext = vec![9u8; 3 * CHUNK + 100];
        let file = encrypt(&identity.to_public(), &plaintext);
        let h = header_length(&file);
        assert!(decrypt_all(&file, &other).is_err(), "wrong identity");
        // Any flipped bit in the header, the nonce or the payload.
        let mut rng = rand::thread_rng();
        use rand::Rng;
        for _ in 0..300 {
            let mut bad = file.clone();
            let i = rng.gen_range(0..bad.len());
            bad[i] ^= 1 << rng.gen_range(0..8);
            let ours = decrypt_all(&bad, &identity);
            let theirs = with_age(&bad, &identity);
            assert!(ours.is_err(), "flip at {i} (header {h})");
            assert!(theirs.is_err(), "age agrees: flip at {i}");
        }
        // Cut mid-chunk: the short chunk is not a valid last chunk.
        let cut = &file[..file.len() - 50];
        assert!(decrypt_all(cut, &identity).is_err());
        assert!(with_age(cut, &identity).is_err());
        // Cut at a chunk boundary (a power loss): the chunks there open, the
        // file is known to be truncated (age reports an error at the end).
        let boundary = h + 16 + 2 * ENCRYPTED_CHUNK;
        let truncated = decrypt_all(&file[..boundary], &identity).unwrap();
        assert_eq!(truncated, plaintext[..2 * CHUNK]);
        // Two chunks swapped.
        let mut swapped = file.clone();
        let a = h + 16;
        let b = a + ENCRYPTED_CHUNK;
        let first = swapped[a..b].to_vec();
        swapped.copy_within(b..b + ENCRYPTED_CHUNK, a);
        swapped[b..b + ENCRYPTED_CHUNK].copy_from_slice(&first);
        assert!(decrypt_all(&swapped, &identity).is_err());
        // Garbage headers.
        for garbage in [
            &b""[..],
            b"age-encryption.org/v1\n",
            b"age-encryption.org/v1\n--- AAAA\n",
            b"age-encryption.org/v2\n-> X25519 abc\nAAAA\n--- x\n",
            &file[..h - 1],
        ] {
            assert!(Payload::open(garbage, &[0; 16], 10_000, &identity).is_err());
        }
        // Chunk index or length out of range.
        let nonce: [u8; 16] = file[h..h + 16].try_into().unwrap();
        let payload = Payload::open(&file[..h], &nonce, file.len() as u64, &identity).unwrap();
        assert!(payload.decrypt_chunk(99, &mut [0; 100]).is_err());
        assert!(payload.decrypt_chunk(0, &mut [0; 100]).is_err());
    }
}
