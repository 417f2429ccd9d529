//! Axis body-worn system controllers' connections from the command line
//! (issue 23, ADR 0017): `custos axis connect | rotate | revoke`. The
//! connection file is read as the Axis manager would; the certificate in it
//! is checked by openssl, an outside witness.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use custos_catalog::stores::*;
use sha2::{Digest, Sha256};

use crate::cli::{custos, init_keys, ok, run};

/// A data directory with its keys, and a certificate openssl made.
struct Site {
    tmp: tempfile::TempDir,
    data: PathBuf,
    cert: PathBuf,
}

fn site() -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init_keys(&data);
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "30"])
        .args(["-subj", "/CN=custos.example.nl", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    Site { tmp, data, cert }
}

impl Site {
    fn axis(&self, verb: &str, name: &str) -> Command {
        self.axis_with(verb, name, "Gemeente Utrecht", URL, &self.cert)
    }

    /// `custos axis VERB` with this site, address and certificate.
    fn axis_with(&self, verb: &str, name: &str, site: &str, url: &str, cert: &Path) -> Command {
        let mut c = custos();
        c.args(["axis", verb, "--name", name, "--data"])
            .arg(&self.data);
        if verb != "revoke" {
            c.args(["--site", site, "--url", url, "--tls-cert"])
                .arg(cert);
        }
        c
    }

    async fn connection(&self, name: &str) -> Option<custos_catalog::AxisConnection> {
        let catalog = custos_catalog_sqlite::open(&self.data).await.unwrap();
        let connection = catalog.axis_connection(name).await.unwrap();
        catalog.pool().close().await;
        connection
    }

    async fn actions(&self) -> Vec<(String, Option<String>)> {
        let catalog = custos_catalog_sqlite::open(&self.data).await.unwrap();
        let entries = catalog.audit_entries(0, 10_000).await.unwrap();
        catalog.pool().close().await;
        entries
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_slice(&e.bytes).unwrap();
                (
                    v["action"].as_str().unwrap().to_owned(),
                    v["object"].as_str().map(str::to_owned),
                )
            })
            .filter(|(a, _)| a.starts_with("axis."))
            .collect()
    }
}

const URL: &str = "https://custos.example.nl:8443/";

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The SHA-256 fingerprint openssl gives a certificate (`-inform PEM|DER`).
fn fingerprint(path: &Path, form: &str) -> String {
    let out = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-inform",
            form,
            "-in",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The files under `dir` holding `needle`, as grep (an outside witness)
/// finds them: nothing of a secret may be in them.
///
/// A child process reads them, never this one: closing a file descriptor of
/// `catalog.sqlite` here would drop every POSIX lock this process's SQLite
/// connections hold on it, and a `custos` process run next would think it
/// is alone, checkpoint the write-ahead log away under them and lose or
/// "malform" what they see (SQLite's "How To Corrupt", 2.2; CI caught it).
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let out = Command::new("grep")
        .args(["-r", "-l", "-a", "-F", "-e", needle, "--"])
        .arg(dir)
        .output()
        .unwrap();
    // grep: 0 found, 1 not found, 2 it could not read a file. A pool of
    // this test's closes its SQLite handle a moment after `close` returns,
    // and the last handle's close removes the `-wal` and `-shm` files
    // (their rows are in `catalog.sqlite` by then): a file gone between
    // grep's listing and its reading is all that may fail.
    let complaints = String::from_utf8_lossy(&out.stderr);
    let only_gone = !complaints.is_empty()
        && complaints.lines().all(|l| {
            l.ends_with("-shm: No such file or directory")
                || l.ends_with("-wal: No such file or directory")
        });
    assert!(
        matches!(out.status.code(), Some(0 | 1)) || only_gone,
        "grep: {complaints}"
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    listed.lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn a_connection_file_carries_the_pinned_certificate_and_a_key_kept_only_as_its_hash() {
    let s = site();
    let file: serde_json::Value =
        serde_json::from_str(&ok(&mut s.axis("connect", "scu-1"))).unwrap();
    assert_eq!(file["BlobAPIUserName"], "scu-1");
    assert_eq!(file["SiteName"], "Gemeente Utrecht");
    assert_eq!(file["ContainerType"], "mp4");
    assert_eq!(
        file["AuthenticationTokenURI"],
        serde_json::json!(["https://custos.example.nl:8443/auth/v1.0"])
    );
    let key = file["BlobAPIKey"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 64, "256 random bits");
    // The certificate the controller pins is the server's, as openssl reads it.
    let der = base64::engine::general_purpose::STANDARD
        .decode(file["HTTPSCertificate"][0].as_str().unwrap())
        .unwrap();
    let der_path = s.tmp.path().join("pinned.der");
    std::fs::write(&der_path, der).unwrap();
    assert_eq!(fingerprint(&der_path, "DER"), fingerprint(&s.cert, "PEM"));

    let kept = s.connection("scu-1").await.unwrap();
    assert_eq!(kept.key_sha256, sha256_hex(&key));
    assert!(kept.revoked_at.is_none() && kept.rotated_at.is_none());
    assert_eq!(
        files_holding(&s.data, &key),
        Vec::<String>::new(),
        "the key is nowhere in the data directory"
    );
    assert_eq!(
        s.actions().await,
        [("axis.connect".to_owned(), Some("axis:scu-1".to_owned()))]
    );
}

#[tokio::test]
async fn bad_names_sites_addresses_and_a_taken_name_are_refused_and_make_nothing() {
    let s = site();
    ok(&mut s.axis("connect", "scu-1"));
    let long_site = "x".repeat(65);
    let missing = s.tmp.path().join("missing.pem");
    let refusals: Vec<(Command, &str)> = vec![
        (s.axis("connect", "scu-1"), "exists"),
        (s.axis("connect", "../etc"), "identifier"),
        (s.axis("connect", ""), "credentials"),
        (
            s.axis_with("connect", "scu-2", &long_site, URL, &s.cert),
            "SiteName",
        ),
        (
            s.axis_with("connect", "scu-2", "x", "http://custos.example.nl", &s.cert),
            "https",
        ),
        (
            s.axis_with("connect", "scu-2", "x", URL, &missing),
            "certificate",
        ),
        (
            s.axis_with("connect", "scu-2", "x", URL, &s.tmp.path().join("key.pem")),
            "no certificate",
        ),
        (s.axis("rotate", "nobody"), "not found"),
        (s.axis("revoke", "nobody"), "not found"),
    ];
    for (mut command, why) in refusals {
        let out = run(&mut command);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command:?}");
        assert!(
            stderr.to_lowercase().contains(&why.to_lowercase()),
            "{command:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "no file for a refusal");
    }
    assert!(s.connection("scu-2").await.is_none());
    assert_eq!(s.actions().await.len(), 1, "only the first connect");
}

#[tokio::test]
async fn a_rotation_replaces_the_key_and_a_revocation_ends_the_connection_for_good() {
    let s = site();
    let first: serde_json::Value =
        serde_json::from_str(&ok(&mut s.axis("connect", "scu-1"))).unwrap();
    let out = s.tmp.path().join("scu-1.json");
    let mut rotate = s.axis("rotate", "scu-1");
    rotate.arg("--out").arg(&out);
    assert!(ok(&mut rotate).is_empty(), "written to the file only");
    let second: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads the key");
    }
    assert_ne!(first["BlobAPIKey"], second["BlobAPIKey"]);
    let kept = s.connection("scu-1").await.unwrap();
    assert_eq!(
        kept.key_sha256,
        sha256_hex(second["BlobAPIKey"].as_str().unwrap())
    );
    assert!(kept.rotated_at.is_some());

    let mut again = s.axis("rotate", "scu-1");
    again.arg("--out").arg(&out);
    let refused = run(&mut again);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("never overwritten"));
    assert_eq!(
        s.connection("scu-1").await.unwrap().key_sha256,
        kept.key_sha256,
        "a refused rotation changes nothing"
    );

    ok(&mut s.axis("revoke", "scu-1"));
    assert!(s.connection("scu-1").await.unwrap().revoked_at.is_some());
    let after = run(&mut s.axis("rotate", "scu-1"));
    assert!(!after.status.success(), "a revoked connection gets no key");
    let connect = run(&mut s.axis("connect", "scu-1"));
    assert!(!connect.status.success(), "its name stays taken");
    let actions: Vec<String> = s.actions().await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(actions, ["axis.connect", "axis.rotate", "axis.revoke"]);
}

/// A connection's content keys, read with a catalog closed again at once.
async fn content_keys(data: &Path, name: &str) -> Vec<custos_catalog::AxisContentKey> {
    let catalog = custos_catalog_sqlite::open(data).await.unwrap();
    let keys = catalog.axis_content_keys(name).await.unwrap();
    catalog.pool().close().await;
    keys
}

/// `--encrypt`: the connection file wants encryption and carries an RSA
/// public key OpenSSL reads and encrypts to; the private half is kept only
/// sealed; `rotate` keeps encryption on (Axis refuses a file that turns
/// it off) and `rotate --encrypt` names a new key.
#[tokio::test]
async fn encrypt_puts_a_public_key_in_the_file_and_keeps_the_private_one_sealed() {
    let s = site();
    let file: serde_json::Value =
        serde_json::from_str(&ok(s.axis("connect", "scu-1").arg("--encrypt"))).unwrap();
    assert_eq!(file["WantEncryption"], true);
    let id = file["PublicKeyId"].as_str().unwrap().to_owned();
    let pem = base64::engine::general_purpose::STANDARD
        .decode(file["PublicKey"].as_str().unwrap())
        .unwrap();
    let pem_path = s.tmp.path().join("public.pem");
    std::fs::write(&pem_path, &pem).unwrap();
    let text = Command::new("openssl")
        .args(["pkey", "-pubin", "-noout", "-text", "-in"])
        .arg(&pem_path)
        .output()
        .unwrap();
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("3072 bit"));
    // The id is the key's: SHA-256 of its DER.
    let der = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER", "-in"])
        .arg(&pem_path)
        .output()
        .unwrap()
        .stdout;
    assert_eq!(
        id,
        format!("custos-{}", &hex::encode(Sha256::digest(&der))[..16])
    );
    let kept = content_keys(&s.data, "scu-1").await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].public_pem.as_bytes(), &pem[..]);
    assert!(kept[0]
        .sealed
        .starts_with(b"age-encryption.org/v1\n-> X25519 "));
    for header in ["PRIVATE KEY-----", "BEGIN RSA PRIVATE"] {
        assert_eq!(
            files_holding(&s.data, header),
            Vec::<String>::new(),
            "no private key in the clear"
        );
    }
    // The witness finds what is there: the public half is in the catalog.
    assert!(
        !files_holding(&s.data, "-----BEGIN PUBLIC KEY-----").is_empty(),
        "the catalog holds the public half"
    );
    // Rotating keeps it on, with the same key; --encrypt makes a new one.
    let rotated: serde_json::Value =
        serde_json::from_str(&ok(&mut s.axis("rotate", "scu-1"))).unwrap();
    assert_eq!(
        (
            rotated["WantEncryption"].clone(),
            rotated["PublicKeyId"].clone()
        ),
        (true.into(), id.clone().into())
    );
    let renewed: serde_json::Value =
        serde_json::from_str(&ok(s.axis("rotate", "scu-1").arg("--encrypt"))).unwrap();
    assert_ne!(renewed["PublicKeyId"], id);
    assert_eq!(content_keys(&s.data, "scu-1").await.len(), 2);
    let actions: Vec<String> = s.actions().await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        [
            "axis.connect",
            "axis.content-key",
            "axis.rotate",
            "axis.rotate",
            "axis.content-key"
        ]
    );
    // A connection without --encrypt wants none.
    let plain: serde_json::Value =
        serde_json::from_str(&ok(&mut s.axis("connect", "scu-2"))).unwrap();
    assert_eq!(plain["WantEncryption"], false);
    assert!(plain.get("PublicKey").is_none());
}
