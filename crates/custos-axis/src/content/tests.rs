//! The outside witness is OpenSSL's command line, doing what an Axis
//! camera does and what Axis' reference decrypter undoes: `openssl enc
//! -aes-256-cbc` for the clip, `openssl pkeyutl` with OAEP for the key.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Command;

use super::*;

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (installed by ./test.sh)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A clip of `plain` encrypted and its key wrapped by OpenSSL to `key`'s
/// public half, as a camera would: (ciphertext, key file).
fn camera_encrypts(
    key: &ConnectionKey,
    plain: &[u8],
    aes: [u8; 32],
    iv: [u8; 16],
) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("public.pem"), key.public_pem()).unwrap();
    std::fs::write(d.join("clip"), plain).unwrap();
    std::fs::write(d.join("aes.key"), aes).unwrap();
    openssl(
        &[
            "enc",
            "-aes-256-cbc",
            "-K",
            &hex::encode(aes),
            "-iv",
            &hex::encode(iv),
            "-in",
            "clip",
            "-out",
            "clip.enc",
        ],
        d,
    );
    openssl(
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            "public.pem",
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-in",
            "aes.key",
            "-out",
            "aes.wrapped",
        ],
        d,
    );
    let wrapped = std::fs::read(d.join("aes.wrapped")).unwrap();
    // One attribute per line, as Axis' `decrypt_file.sh` greps it.
    let file = format!(
        "{{\n  \"PublicKeyId\": \"{}\",\n  \"EncryptedKey\": \"{}\",\n  \"ContentEncryptionIV\": \"{}\"\n}}\n",
        key.id(),
        b64(&wrapped),
        b64(&iv)
    );
    (
        std::fs::read(d.join("clip.enc")).unwrap(),
        file.into_bytes(),
    )
}

fn clip(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + i / 251) as u8).collect()
}

#[test]
fn a_clip_openssl_encrypted_and_wrapped_opens_whole_and_by_every_range() {
    let key = ConnectionKey::generate();
    assert_eq!(key.bits(), RSA_BITS);
    assert!(key.id().starts_with("custos-") && key.id().len() == 23);
    assert!(key.public_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let again = ConnectionKey::from_pkcs8_der(&key.to_pkcs8_der()).unwrap();
    assert_eq!(again.id(), key.id(), "PKCS#8 round trip");

    for n in [0usize, 1, 15, 16, 17, 31, 32, 33, 70_000, 200_003] {
        let plain = clip(n);
        let (aes, iv) = ([n as u8 ^ 0x5a; 32], [n as u8 ^ 0xa5; 16]);
        let (cipher, file) = camera_encrypts(&again, &plain, aes, iv);
        assert_eq!(cipher.len(), (n / 16 + 1) * 16, "PKCS#7 always pads");
        let file = KeyFile::parse(&file).unwrap();
        assert_eq!(file.key_id.as_deref(), Some(key.id().as_str()));
        let content = key.unwrap(&file).unwrap();
        assert_eq!((content.key(), content.iv()), (&aes, &iv));

        let mut reader = DecryptingReader::new(
            Cursor::new(cipher.clone()),
            content.clone(),
            cipher.len() as u64,
        )
        .unwrap();
        assert_eq!(reader.plaintext_length(), n as u64);
        let mut whole = Vec::new();
        reader.read_to_end(&mut whole).unwrap();
        assert_eq!(whole, plain, "{n} bytes read whole");
        if n > 40 {
            reader.seek(SeekFrom::Start(n as u64 - 40)).unwrap();
            let mut tail = Vec::new();
            reader.read_to_end(&mut tail).unwrap();
            assert_eq!(tail, &plain[n - 40..], "{n}: seek and read the tail");
            reader.seek(SeekFrom::End(-(n as i64) + 17)).unwrap();
            let mut some = [0u8; 5];
            reader.read_exact(&mut some).unwrap();
            assert_eq!(some, plain[17..22]);
        }
        if n == 0 {
            continue;
        }
        let ranges = [
            (0, n - 1),
            (0, 0),
            (n - 1, n - 1),
            (n / 2, n - 1),
            (15.min(n - 1), (16).min(n - 1)),
            (17.min(n - 1), (65_537).min(n - 1)),
        ];
        for (start, end) in ranges {
            let (from, to) = ciphertext_span(start as u64, end as u64);
            assert!(
                to < cipher.len() as u64,
                "{start}-{end} of {n} stays inside"
            );
            for piece in [1usize, 7, 16, 4096, 1 << 20] {
                let mut d = RangeDecryptor::new(content.clone(), start as u64, end as u64);
                let mut got = Vec::new();
                for p in cipher[from as usize..=to as usize].chunks(piece) {
                    got.extend(d.push(p));
                }
                assert_eq!(
                    got,
                    &plain[start..=end],
                    "{start}-{end} of {n} in pieces of {piece}"
                );
            }
        }
    }
}

#[test]
fn a_wrong_key_a_cut_clip_and_a_foreign_wrapping_are_refused() {
    let ours = ConnectionKey::generate();
    let theirs = ConnectionKey::generate();
    let plain = clip(1000);
    let (cipher, file) = camera_encrypts(&theirs, &plain, [1; 32], [2; 16]);
    let file = KeyFile::parse(&file).unwrap();
    assert_eq!(ours.unwrap(&file).unwrap_err(), ContentError::Unwrap);

    let right = theirs.unwrap(&file).unwrap();
    let len = cipher.len() as u64;
    for cut in [len - 1, len - 15, 1] {
        assert_eq!(
            DecryptingReader::new(Cursor::new(&cipher[..cut as usize]), right.clone(), cut).err(),
            Some(ContentError::Length(cut))
        );
    }
    assert_eq!(
        DecryptingReader::new(Cursor::new(Vec::new()), right.clone(), 0).err(),
        Some(ContentError::Length(0))
    );
    // A whole block cut off leaves a last block whose "padding" is clip
    // bytes (these are not a valid padding).
    assert_eq!(
        DecryptingReader::new(
            Cursor::new(&cipher[..cipher.len() - 16]),
            right.clone(),
            len - 16
        )
        .err(),
        Some(ContentError::Padding)
    );
    // Another key or IV (fixed, so the outcome is too).
    let wrong = ContentKey::new([9; 32], [2; 16]);
    assert_eq!(
        DecryptingReader::new(Cursor::new(&cipher), wrong, len).err(),
        Some(ContentError::Padding)
    );
    // A ciphertext shorter than it says is an I/O error, not a panic.
    assert!(matches!(
        DecryptingReader::new(Cursor::new(&cipher[..32]), right, len).err(),
        Some(ContentError::Io(_))
    ));

    // An RSA-wrapped AES-128 key is not what Axis sends.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("public.pem"), ours.public_pem()).unwrap();
    std::fs::write(dir.path().join("k"), [3u8; 16]).unwrap();
    openssl(
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            "public.pem",
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-in",
            "k",
            "-out",
            "w",
        ],
        dir.path(),
    );
    let short = KeyFile {
        encrypted_key: std::fs::read(dir.path().join("w")).unwrap(),
        iv: [0; 16],
        key_id: None,
    };
    assert_eq!(
        ours.unwrap(&short).unwrap_err(),
        ContentError::KeyLength(16)
    );
    // Garbage where the wrapped key goes.
    let garbage = KeyFile {
        encrypted_key: vec![0xff; 384],
        ..short.clone()
    };
    assert_eq!(ours.unwrap(&garbage).unwrap_err(), ContentError::Unwrap);
    assert_eq!(
        ContentKey::new([0; 32], [0; 16]).plaintext_length(32, &[0; 7]),
        Err(ContentError::Padding)
    );
    assert!(matches!(
        ConnectionKey::from_pkcs8_der(b"not a key"),
        Err(ContentError::BadRsaKey)
    ));
}

#[test]
fn key_files_are_read_as_the_reference_decrypter_reads_them_and_hostile_ones_refused() {
    let iv = b64(&[7; 16]);
    let key = b64(&[1; 384]);
    let ok = |text: String| KeyFile::parse(text.as_bytes());
    let flat = ok(format!(
        r#"{{"EncryptedKey":"{key}","ContentEncryptionIV":"{iv}"}}"#
    ))
    .unwrap();
    assert_eq!(
        (flat.iv, flat.encrypted_key.len(), flat.key_id),
        ([7; 16], 384, None)
    );
    // Nested (an Azure-style envelope) and with other attributes beside.
    let nested = ok(format!(
        r#"{{"WrappedContentKey":{{"KeyId":"k1","EncryptedKey":"{key}","Algorithm":"RSA-OAEP"}},"ContentEncryptionIV":"{iv}","EncryptionAgent":{{"Protocol":"1.0"}}}}"#
    ))
    .unwrap();
    assert_eq!(nested.key_id.as_deref(), Some("k1"));
    // The same value twice is one value; two values are refused.
    assert!(ok(format!(
        r#"{{"EncryptedKey":"{key}","a":{{"EncryptedKey":"{key}"}},"ContentEncryptionIV":"{iv}"}}"#
    ))
    .is_ok());
    let cases: Vec<(String, ContentError)> = vec![
        ("".into(), ContentError::NotJson),
        ("{".into(), ContentError::NotJson),
        ("\u{0}\u{1}binary".into(), ContentError::NotJson),
        ("[]".into(), ContentError::Missing("EncryptedKey")),
        (
            format!(r#"{{"EncryptedKey":"{key}"}}"#),
            ContentError::Missing("ContentEncryptionIV"),
        ),
        (
            format!(r#"{{"ContentEncryptionIV":"{iv}"}}"#),
            ContentError::Missing("EncryptedKey"),
        ),
        (
            format!(
                r#"{{"EncryptedKey":"{key}","b":["x",{{"EncryptedKey":"AAAA"}}],"ContentEncryptionIV":"{iv}"}}"#
            ),
            ContentError::Twice("EncryptedKey"),
        ),
        (
            format!(r#"{{"EncryptedKey":"not base64!","ContentEncryptionIV":"{iv}"}}"#),
            ContentError::NotBase64("EncryptedKey"),
        ),
        (
            format!(r#"{{"EncryptedKey":"{key}","ContentEncryptionIV":"%%%"}}"#),
            ContentError::NotBase64("ContentEncryptionIV"),
        ),
        (
            format!(
                r#"{{"EncryptedKey":"{key}","ContentEncryptionIV":"{}"}}"#,
                b64(&[0; 15])
            ),
            ContentError::IvLength(15),
        ),
        (
            format!(r#"{{"EncryptedKey":"","ContentEncryptionIV":"{iv}"}}"#),
            ContentError::Unwrap,
        ),
        (
            format!(
                r#"{{"EncryptedKey":"{}","ContentEncryptionIV":"{iv}"}}"#,
                b64(&[1; 1025])
            ),
            ContentError::Unwrap,
        ),
        (
            format!(
                r#"{{"EncryptedKey":"{key}","ContentEncryptionIV":"{iv}","PublicKeyId":"a","x":{{"PublicKeyId":"b"}}}}"#
            ),
            ContentError::Twice("PublicKeyId"),
        ),
        (
            format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_KEY_FILE)),
            ContentError::TooLarge,
        ),
    ];
    for (text, want) in cases {
        let shown: String = text.chars().take(60).collect();
        assert_eq!(ok(text).unwrap_err(), want, "{shown}");
    }
    // A number where a string belongs is not the attribute.
    assert_eq!(
        ok(format!(
            r#"{{"EncryptedKey":5,"ContentEncryptionIV":"{iv}"}}"#
        ))
        .unwrap_err(),
        ContentError::Missing("EncryptedKey")
    );
    // Deep nesting is serde_json's recursion limit, an error, not a crash.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(ok(deep).unwrap_err(), ContentError::NotJson);
}

#[test]
fn ciphertext_spans_take_the_block_before_the_range() {
    assert_eq!(ciphertext_span(0, 0), (0, 15));
    assert_eq!(ciphertext_span(15, 16), (0, 31));
    assert_eq!(
        ciphertext_span(16, 16),
        (0, 31),
        "block 1 needs block 0 as its IV"
    );
    assert_eq!(ciphertext_span(32, 47), (16, 47));
    assert_eq!(ciphertext_span(1000, 5000), (976, 5007));
}

/// docs/FORMAT.md §12.6's test vector (made with `openssl enc`).
#[test]
fn the_format_documents_test_vector_decrypts() {
    let cipher =
        hex::decode("3be3b62ea3128394487a0ce3d476c317572845d3aa88a4cd188923105701305d").unwrap();
    let key = ContentKey::new([0x11; 32], [0x22; 16]);
    let mut reader = DecryptingReader::new(Cursor::new(cipher.clone()), key.clone(), 32).unwrap();
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).unwrap();
    assert_eq!(plain, b"0123456789abcdef\n");
    let mut d = RangeDecryptor::new(key, 16, 16);
    assert_eq!(d.push(&cipher), b"\n");
}
