//! Files and images sent in dialogs: what may be sent, and how it is named.
//!
//! A file is uploaded first (the widget to `POST /files`, the console to
//! `POST /api/files`, see [`crate::http`]), stored through [`crate::storage`]
//! with a random id, then sent with one chat message (`attachment_id`). What a
//! file is comes from its first bytes, never from what the sender says: only
//! PNG, JPEG, GIF and WebP images, PDF documents and plain text are taken.
//! Only images are ever shown in a page; everything else is served as a
//! download, and nothing is served with a type that can run script.

/// What an upload by the visitor is marked as (only they may send it).
pub const UPLOADER_VISITOR: &str = "visitor";

/// What an upload by a consultant is marked as (only they may send it).
pub fn uploader_user(user_id: i64) -> String {
    format!("user:{user_id}")
}

/// Longest file name kept, in characters.
const MAX_NAME: usize = 100;

/// File names plain text may have (other text, such as HTML, is refused).
const TEXT_EXTENSIONS: [&str; 4] = ["txt", "csv", "log", "md"];

/// A new file id: 128 random bits, hex (the link to the file is its permission).
pub fn new_id() -> String {
    crate::auth::new_token()[..32].to_owned()
}

/// Whether `id` has the form [`new_id`] makes (anything else is no file).
pub fn is_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// What the bytes are, by their first bytes: the content type to store, or
/// why the file is refused. `name` decides only whether text is taken.
pub fn kind_of(data: &[u8], name: &str) -> Result<&'static str, String> {
    if data.is_empty() {
        return Err("the file is empty".into());
    }
    let starts = |magic: &[u8]| data.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok("image/png");
    }
    if starts(b"\xff\xd8\xff") {
        return Ok("image/jpeg");
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Ok("image/gif");
    }
    if data.len() >= 12 && starts(b"RIFF") && &data[8..12] == b"WEBP" {
        return Ok("image/webp");
    }
    if starts(b"%PDF-") {
        return Ok("application/pdf");
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    if TEXT_EXTENSIONS.contains(&ext.as_str()) && !data.contains(&0) && std::str::from_utf8(data).is_ok() {
        return Ok("text/plain");
    }
    Err("only images (PNG, JPEG, GIF, WebP), PDF documents and plain text files (.txt, .csv, .log, .md) can be sent".into())
}

/// Whether a stored type is shown in a page (an image) rather than downloaded.
pub fn is_image(content_type: &str) -> bool {
    matches!(content_type, "image/png" | "image/jpeg" | "image/gif" | "image/webp")
}

/// The name a file is kept under: its last path part, without control
/// characters, at most [`MAX_NAME`] characters (keeping the extension), `file` if nothing is left.
pub fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let name: String = last.chars().filter(|c| !c.is_control()).collect::<String>().trim().to_owned();
    if name.is_empty() || name == "." || name == ".." {
        return "file".into();
    }
    if name.chars().count() <= MAX_NAME {
        return name;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if e.chars().count() <= 10 => (s, format!(".{e}")),
        _ => (name.as_str(), String::new()),
    };
    let keep = MAX_NAME - ext.chars().count();
    format!("{}{ext}", stem.chars().take(keep).collect::<String>())
}

/// `Content-Disposition` for a file: shown in place (images) or downloaded, named in UTF-8.
pub fn disposition(content_type: &str, name: &str) -> String {
    let how = if is_image(content_type) { "inline" } else { "attachment" };
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{how}; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_what_its_bytes_say_not_what_its_name_says() {
        assert_eq!(kind_of(b"\x89PNG\r\n\x1a\n....", "x.pdf"), Ok("image/png"));
        assert_eq!(kind_of(b"\xff\xd8\xff\xe0", "photo"), Ok("image/jpeg"));
        assert_eq!(kind_of(b"GIF89a..", "a.gif"), Ok("image/gif"));
        assert_eq!(kind_of(b"RIFF\0\0\0\0WEBPVP8 ", "a.webp"), Ok("image/webp"));
        assert_eq!(kind_of(b"%PDF-1.7", "invoice.pdf"), Ok("application/pdf"));
        assert_eq!(kind_of("Bestellung 42, Größe 44".as_bytes(), "order.TXT"), Ok("text/plain"));
        for (bad, name) in [
            (&b"<html><script>alert(1)</script>"[..], "page.html"),
            (b"<html><script>alert(1)</script>", "page.txt.html"),
            (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "logo.svg"),
            (b"MZ\x90\0", "setup.exe"),
            (b"text with a \0 byte", "notes.txt"),
            (b"\xff\xfe not utf-8", "notes.txt"),
            (b"", "empty.png"),
        ] {
            assert!(kind_of(bad, name).is_err(), "{name}");
        }
    }

    #[test]
    fn names_lose_paths_and_control_characters_and_keep_their_extension() {
        assert_eq!(clean_name("C:\\Users\\ann\\photo 1.png"), "photo 1.png");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\u{0}b\r\n.txt"), "ab.txt");
        assert_eq!(clean_name(" / "), "file");
        let long = format!("{}.jpeg", "x".repeat(300));
        let kept = clean_name(&long);
        assert_eq!(kept.chars().count(), MAX_NAME);
        assert!(kept.ends_with("x.jpeg"));
    }

    #[test]
    fn only_images_show_in_place_and_names_are_escaped() {
        assert_eq!(disposition("image/png", "a b.png"), "inline; filename*=UTF-8''a%20b.png");
        assert_eq!(disposition("application/pdf", "ä\";x.pdf"), "attachment; filename*=UTF-8''%C3%A4%22%3Bx.pdf");
        assert!(is_id(&new_id()));
        assert!(!is_id("../../x") && !is_id(&"A".repeat(32)));
    }
}
