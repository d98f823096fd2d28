"""server/page_media.py: which media a social post or article names (og, twitter, JSON-LD, the article's images)."""

from __future__ import annotations

from server.page_media import extract_media, looks_like_html


def test_page_media_meta_jsonld_article_images_in_order():
    html = """<html><head><base href="https://cdn.example/base/">
    <meta property="og:image:secure_url" content="https://cdn.example/og.jpg">
    <meta property="og:video" content="video.mp4"><meta name="twitter:image:src" content="/tw.png">
    <script type="application/ld+json">{"@graph": [{"@type": "NewsArticle", "image": ["a.jpg", {"url": "b.jpg"}]},
      {"@type": "VideoObject", "contentUrl": "clip.mp4", "thumbnailUrl": "thumb.jpg"}]}</script>
    <script type="application/ld+json">{not json</script></head>
    <body><nav><img src="nav.jpg"></nav><article><img src="icon.png" width="16" height="16">
    <img srcset="small.jpg 320w, large.jpg 1280w"><video><source src="inline.mp4"></video>
    <img src="javascript:alert(1)"><img src="https://cdn.example/og.jpg"></article></body></html>"""
    found = [(m.url, m.source) for m in extract_media(html, "https://news.example/story")]
    assert found == [
        ("https://cdn.example/og.jpg", "og:image"),
        ("https://cdn.example/base/video.mp4", "og:video"),
        ("https://cdn.example/tw.png", "twitter:image"),
        ("https://cdn.example/base/a.jpg", "json-ld"),
        ("https://cdn.example/base/b.jpg", "json-ld"),
        ("https://cdn.example/base/clip.mp4", "json-ld"),
        ("https://cdn.example/base/thumb.jpg", "json-ld"),
        ("https://cdn.example/base/large.jpg", "article:img"),
        ("https://cdn.example/base/inline.mp4", "article:video"),
    ]


def test_page_media_without_article_uses_body_and_limit():
    html = "<body>" + "".join(f'<img src="/i{n}.jpg">' for n in range(50)) + "</body>"
    found = extract_media(html, "https://x.example/p", limit=5)
    assert [m.url for m in found] == [f"https://x.example/i{n}.jpg" for n in range(5)]


def test_page_media_html_sniffing():
    assert looks_like_html("text/html; charset=utf-8", b"")
    assert looks_like_html("application/octet-stream", b"  <!DOCTYPE html><html>")
    assert not looks_like_html("image/jpeg", b"\xff\xd8\xff\xe0")
