//! Axis' own content encryption (issue 23 point 4). OpenSSL plays the
//! camera: it encrypts each clip with AES-256-CBC and wraps the clip key
//! with RSA-OAEP to the public key Custos put in the connection file, as
//! Axis documents it. Custos keeps what arrived byte for byte, plays it
//! decrypted only through the purpose-bound paths, refuses a clip whose
//! key file does not open it with a clear answer on record, and deleting
//! the recording takes the key files with the clips.

use std::path::Path;
use std::process::Command;

use base64::Engine;

use crate::axis_swift::*;
use crate::common::*;

/// Clip names: `<StartTime>_<RecordingID>`, one second apart.
pub(crate) fn clip_name(i: usize) -> String {
    format!("17874856{:02}_1.mp4", 20 + i)
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (see ./test.sh)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a camera sends for `plain` with the clip key `aes`: the
/// ciphertext and the key file, its key wrapped to `public_pem` and named
/// `key_id` (if given).
pub(crate) fn camera(
    plain: &[u8],
    aes: [u8; 32],
    public_pem: &str,
    key_id: Option<&str>,
) -> (Vec<u8>, Vec<u8>) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let iv = [aes[0] ^ 0x3c; 16];
    std::fs::write(d.join("public.pem"), public_pem).unwrap();
    std::fs::write(d.join("clip"), plain).unwrap();
    std::fs::write(d.join("aes"), aes).unwrap();
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
            "aes",
            "-out",
            "wrapped",
        ],
        d,
    );
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let id = key_id.map_or(String::new(), |id| {
        format!("  \"PublicKeyId\": \"{id}\",\n")
    });
    let file = format!(
        "{{\n{id}  \"EncryptedKey\": \"{}\",\n  \"ContentEncryptionIV\": \"{}\"\n}}\n",
        b64(&std::fs::read(d.join("wrapped")).unwrap()),
        b64(&iv)
    );
    (
        std::fs::read(d.join("clip.enc")).unwrap(),
        file.into_bytes(),
    )
}

/// A three-second H.264 MP4, as the thumbnail tests make one.
fn mp4() -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("clip.mp4");
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10",
        ])
        .args([
            "-t", "3", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p",
        ])
        .arg(&path)
        .output()
        .expect("ffmpeg (see ./test.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(path).unwrap()
}

pub(crate) async fn put(s: &Scu, name: &str, headers: &[(&str, &str)], body: &[u8]) {
    let answer = s
        .send("PUT", &format!("{RECORDING}/{name}"), headers, body)
        .await;
    assert_eq!(answer.status, Some(201), "{name}: {}", answer.head);
}

/// A clip and its key file, as the controller uploads them.
pub(crate) async fn encrypted_clip(s: &Scu, i: usize, cipher: &[u8], key_file: &[u8]) {
    let name = clip_name(i);
    let start = name[..10].to_owned();
    put(s, &name, &[("X-Object-Meta-Containertype", "mp4")], cipher).await;
    let key = name.replace(".mp4", ".key");
    put(
        s,
        &key,
        &[
            ("X-Object-Meta-Filetype", "key"),
            ("X-Object-Meta-Starttime", &start),
        ],
        key_file,
    )
    .await;
}

/// A reviewer's token and a case the recording is linked to.
pub(crate) async fn reviewer(w: &World, id: uuid::Uuid) -> (String, String) {
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let case = w.with_case(&token, "complaint").await;
    w.link(&token, &case, id).await;
    (token, case)
}

#[tokio::test]
async fn a_clip_its_camera_encrypted_plays_decrypted_and_its_key_file_goes_with_it() {
    let s = scu().await;
    let w = &s.w;
    let (public_pem, key_id) = w.admin().await.add_axis_content_key("scu-1").await.unwrap();
    assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    // The private half is nowhere in the clear: not in the data directory,
    // and in the catalog only as age ciphertext to the evidence key.
    let kept = w
        .server
        .deployment
        .catalog
        .axis_content_keys("scu-1")
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].sealed.starts_with(b"age-encryption.org/v1\n"));
    assert_eq!(kept[0].key_id, key_id);

    let plain = mp4();
    let (cipher, key_file) = camera(&plain, [0x11; 32], &public_pem, Some(&key_id));
    assert_ne!(cipher[..64], plain[..64]);
    s.recording().await;
    encrypted_clip(&s, 0, &cipher, &key_file).await;
    assert_eq!(s.complete().await.status, Some(204));
    let r = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let id = r.recording_id;
    let objects = s.objects(RECORDING).await;
    let stored = |name: &str| s.open(objects.iter().find(|o| o.name == name).unwrap());
    assert!(stored(&clip_name(0)) == cipher, "kept as it arrived");
    assert!(stored(&clip_name(0).replace(".mp4", ".key")) == key_file);

    let (token, case) = reviewer(w, id).await;
    let detail = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}"),
            Some(&token),
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(
        detail["axis"]["parts"][0]["key_file"],
        clip_name(0).replace(".mp4", ".key")
    );
    assert_eq!(
        detail["axis"]["parts"][0]["length"],
        cipher.len(),
        "as it arrived"
    );
    let route = |what: &str, extra: &str| {
        format!("/api/v1/recordings/{id}/{what}?purpose=complaint&case={case}&part=0{extra}")
    };
    let whole = w
        .call("GET", &route("video", ""), Some(&token), None, &[])
        .await;
    assert_eq!(
        whole.status,
        200,
        "{}",
        String::from_utf8_lossy(&whole.body)
    );
    assert_eq!(
        whole.header("content-length"),
        Some(plain.len().to_string().as_str())
    );
    assert!(whole.body == plain, "decrypted byte for byte");
    let n = plain.len();
    for (start, end) in [
        (0, 0),
        (15, 16),
        (16, 31),
        (1000, n - 1000),
        (n - 17, n - 1),
        (n - 1, n - 1),
    ] {
        let part = w
            .call(
                "GET",
                &route("video", ""),
                Some(&token),
                None,
                &[("range", &format!("bytes={start}-{end}"))],
            )
            .await;
        assert_eq!(part.status, 206);
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes {start}-{end}/{n}").as_str())
        );
        assert!(part.body == plain[start..=end], "{start}-{end}");
    }
    let past = w
        .call(
            "GET",
            &route("video", ""),
            Some(&token),
            None,
            &[("range", &format!("bytes={n}-"))],
        )
        .await;
    assert_eq!(past.status, 416, "the clip's length, not the ciphertext's");
    let download = w
        .call("GET", &route("download", ""), Some(&token), None, &[])
        .await;
    assert!(download.body == plain);
    let still = w
        .call(
            "GET",
            &route("thumbnail", "&at=1.5"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(
        still.status,
        200,
        "{}",
        String::from_utf8_lossy(&still.body)
    );
    assert_eq!(still.header("content-type"), Some("image/jpeg"));

    // Deleting the recording takes the key file with the clip: no age
    // header of either is left, nor their blobs.
    let report = w.sweep(r.delete_after.plus_millis(3_600_000)).await;
    assert_eq!(report.deleted, 1);
    assert!(s.objects(RECORDING).await.is_empty());
    for o in &objects {
        assert!(
            !w.data.join("blobs").join(&o.blob_key).exists(),
            "{}",
            o.name
        );
    }
}

#[tokio::test]
async fn a_clip_whose_key_file_does_not_open_it_is_refused_clearly_and_the_others_play() {
    let s = scu().await;
    let w = &s.w;
    let admin = w.admin().await;
    let (old_pem, old_id) = admin.add_axis_content_key("scu-1").await.unwrap();
    let (new_pem, _) = admin.add_axis_content_key("scu-1").await.unwrap();
    // A key that is not this connection's.
    let foreign = tempfile::tempdir().unwrap();
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "k.pem",
        ],
        foreign.path(),
    );
    openssl(
        &["pkey", "-in", "k.pem", "-pubout", "-out", "p.pem"],
        foreign.path(),
    );
    let foreign_pem = std::fs::read_to_string(foreign.path().join("p.pem")).unwrap();

    let plain: Vec<Vec<u8>> = (0..5).map(|i| vec![i as u8 + 1; 5_000 + 37 * i]).collect();
    // 0: wrapped to the older key, which it names; 1: to the newer, naming
    // none; 2: to a foreign key; 3: a key file that is no JSON; 4: cut.
    let sent = [
        camera(&plain[0], [1; 32], &old_pem, Some(&old_id)),
        camera(&plain[1], [2; 32], &new_pem, None),
        camera(&plain[2], [3; 32], &foreign_pem, Some(&old_id)),
        (
            camera(&plain[3], [4; 32], &new_pem, None).0,
            b"EncryptedKey: yes".to_vec(),
        ),
        {
            let (c, k) = camera(&plain[4], [5; 32], &new_pem, None);
            (c[..c.len() - 5].to_vec(), k)
        },
    ];
    s.recording().await;
    for (i, (cipher, key)) in sent.iter().enumerate() {
        encrypted_clip(&s, i, cipher, key).await;
    }
    assert_eq!(
        s.complete().await.status,
        Some(204),
        "stored, whatever the keys"
    );
    let id = w.server.deployment.catalog.recordings().await.unwrap()[0].recording_id;
    let (token, case) = reviewer(w, id).await;
    let video =
        |i: usize| format!("/api/v1/recordings/{id}/video?purpose=complaint&case={case}&part={i}");
    for (i, why) in [
        (2, "does not open"),
        (3, "not JSON"),
        (4, "not a whole number"),
    ] {
        let answer = w.call("GET", &video(i), Some(&token), None, &[]).await;
        assert_eq!(answer.status, 422, "part {i}");
        assert_eq!(answer.code(), "undecodable");
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        assert!(text.contains(why), "part {i}: {text}");
        assert!(answer.body.len() < 1000, "no footage");
        let thumb = w
            .call(
                "GET",
                &video(i).replace("/video?", "/thumbnail?"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(thumb.status, 422, "part {i}'s thumbnail");
    }
    // One bad clip fails no other, before or after it.
    for i in [0, 1, 0] {
        let answer = w.call("GET", &video(i), Some(&token), None, &[]).await;
        assert_eq!(
            answer.status,
            200,
            "part {i}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        assert!(answer.body == plain[i], "part {i}");
    }
    // Each refusal is on record as a failed access naming the clip.
    let object = format!("recording:{id}");
    let failed: Vec<String> = audit_events(w)
        .await
        .into_iter()
        .filter(|e| {
            e.action == "recording.play"
                && e.object.as_deref() == Some(object.as_str())
                && e.outcome.as_str() == "failed"
        })
        .map(|e| e.detail.unwrap_or_default())
        .collect();
    assert_eq!(failed.len(), 3, "{failed:?}");
    for (detail, (i, why)) in
        failed
            .iter()
            .zip([(2, "does not open"), (3, "not JSON"), (4, "5147 bytes")])
    {
        assert!(
            detail.starts_with(&format!("clip {i} does not decrypt")) && detail.contains(why),
            "{failed:?}"
        );
    }
    // A revoked connection's keys stay, for the clips wrapped to them; no
    // new key is made for it.
    admin.revoke_axis_connection("scu-1").await.unwrap();
    let catalog = &w.server.deployment.catalog;
    assert_eq!(catalog.axis_content_keys("scu-1").await.unwrap().len(), 2);
    assert!(admin.add_axis_content_key("scu-1").await.is_err());
    assert_eq!(catalog.axis_content_keys("scu-1").await.unwrap().len(), 2);
}

/// An export carries each encrypted clip as it arrived and, in
/// `axis.json`, the key that opens it: `custos verify` checks the list,
/// OpenSSL (in the standard-tools script) decrypts each clip to the
/// length and SHA-256 named; a clip whose key file does not open it is
/// exported all the same, with why.
#[tokio::test]
async fn an_export_names_the_key_of_each_encrypted_clip_and_openssl_opens_it() {
    use crate::evidence::{police_export, standard_tools};
    let s = scu().await;
    let w = &s.w;
    let (pem, id) = w.admin().await.add_axis_content_key("scu-1").await.unwrap();
    let plain = vec![7u8; 100_001];
    let (cipher, key_file) = camera(&plain, [9; 32], &pem, Some(&id));
    let (other, _) = camera(&plain, [8; 32], &pem, None);
    s.recording().await;
    encrypted_clip(&s, 0, &cipher, &key_file).await;
    encrypted_clip(&s, 1, &other, b"{}").await;
    assert_eq!(s.complete().await.status, Some(204));
    let r = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let rita = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&rita).await;
    let case = w.with_case(&token, "police-request").await;
    w.held(&token, &case, r.recording_id, "PV").await;
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, dir) = police_export(w, &token, &case, tmp.path()).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("2 clips encrypted by their camera, 1 with the key"),
        "{out}"
    );
    let rec = dir.join(format!("axis/{SERIAL}-000001"));
    assert!(
        std::fs::read(rec.join("objects").join(clip_name(0))).unwrap() == cipher,
        "as it arrived"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rec.join("axis.json")).unwrap()).unwrap();
    let keys = record["clip_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["key"], hex::encode([9u8; 32]));
    assert_eq!(keys[0]["length"], plain.len());
    assert_eq!(
        keys[0]["sha256"],
        hex::encode(custos_format::sha256(&plain))
    );
    assert!(
        keys[1]["error"]
            .as_str()
            .unwrap()
            .contains("no `EncryptedKey`"),
        "{keys:?}"
    );
    assert_eq!(keys[1]["key"], serde_json::Value::Null);
    let standard = standard_tools(&dir);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&standard.stdout),
        String::from_utf8_lossy(&standard.stderr)
    );
    assert!(standard.status.success(), "{said}");
    assert!(said.contains("does not open with its key file"), "{said}");
    assert!(
        said.contains(&format!(
            "{}: opens with its key (OpenSSL), 100001 bytes",
            clip_name(0)
        )),
        "{said}"
    );
}
