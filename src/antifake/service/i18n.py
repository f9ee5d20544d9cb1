"""The consumer page's words in Vietnamese (default) and English.

`language` picks the language from ``?lang=`` or ``Accept-Language``; `STRINGS` holds every
text the templates show, and `VERDICTS` the plain verdict per status (headline, advice, tone).
"""

from __future__ import annotations

from antifake.verify import Status

__all__ = ["LANGS", "STRINGS", "VERDICTS", "language", "verdict"]

LANGS = ("vi", "en")

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Xác thực tem chống hàng giả",
        "product": "Sản phẩm",
        "gtin": "Mã GTIN",
        "lot": "Số lô",
        "expiry": "Hạn sử dụng",
        "issuer": "Đơn vị phát hành",
        "batch": "Lô tem",
        "scans_none": "Đây là lần quét đầu tiên của mã này.",
        "scans": "Mã này đã được quét {n} lần; lần đầu {when}{where}.",
        "where": " gần {place}",
        "claim_h": "Kích hoạt bảo hành / xác nhận mua hàng",
        "claim_help": "Cào lớp phủ trên tem và nhập mã PIN. Chỉ người đầu tiên nhập đúng mới "
                      "xác nhận được.",
        "pin": "Mã PIN (dưới lớp cào)",
        "claim_btn": "Xác nhận",
        "report_h": "Báo cáo nghi ngờ hàng giả",
        "report_text": "Mô tả (nơi mua, giá, điều bất thường)",
        "report_contact": "Liên hệ (không bắt buộc)",
        "report_btn": "Gửi báo cáo",
        "report_done": "Cảm ơn bạn. Báo cáo đã được lưu và sẽ được cơ quan chức năng xem xét.",
        "lookup_h": "Tra cứu số tem",
        "lookup_help": "Nhập số in trên tem (23 ký tự, có thể có dấu gạch).",
        "number": "Số tem",
        "lookup_btn": "Tra cứu",
        "lang_other": "English",
        "claim_ok": "Xác nhận thành công: sản phẩm đã được ghi nhận là của bạn.",
        "claim_wrong": "Mã PIN không đúng. Còn {left} lần thử.",
        "claim_locked": "Tem đã bị khóa xác nhận do nhập sai quá nhiều lần. Hãy liên hệ nhà "
                        "sản xuất.",
        "claim_mistyped": "Mã PIN có vẻ bị nhập sai (ký tự kiểm tra không khớp). Lần này không "
                          "bị tính.",
        "claim_already": "Tem này đã được xác nhận trước đó. Nếu bạn vừa mua, đây có thể là "
                         "hàng sao chép.",
        "claim_inactive": "Tem đã bị vô hiệu hóa: không thể xác nhận.",
        "claim_refused": "Không thể xác nhận tem này.",
        "slow_down": "Quá nhiều yêu cầu. Vui lòng thử lại sau.",
        "typo": "Số tem có vẻ bị gõ sai (ký tự kiểm tra không khớp). Hãy kiểm tra lại từng ký "
                "tự.",
        "malformed": "Đây không phải là một số tem hợp lệ.",
        "location": "Chia sẻ vị trí gần đúng",
        "location_help": "Không bắt buộc. Chỉ vị trí làm tròn (khoảng 10 km) được gửi, giúp "
                         "phát hiện tem bị sao chép.",
        "location_done": "Cảm ơn bạn đã chia sẻ vị trí gần đúng.",
        "privacy": "Trang này không dùng cookie. Mỗi lần xem được ghi nhận là một lần quét "
                   "(không kèm danh tính).",
        "not_found": "Không tìm thấy trang.",
        "home_help": "Quét mã QR trên tem, hoặc nhập số tem bên dưới.",
        "forged_help": "Nếu bạn đã mua sản phẩm này, hãy giữ lại hóa đơn và báo cho nơi bán "
                       "và cơ quan quản lý thị trường.",
    },
    "en": {
        "title": "Anti-counterfeit stamp check",
        "product": "Product",
        "gtin": "GTIN",
        "lot": "Lot",
        "expiry": "Expiry date",
        "issuer": "Issued by",
        "batch": "Stamp batch",
        "scans_none": "This is the first scan of this code.",
        "scans": "This code was scanned {n} times; first {when}{where}.",
        "where": " near {place}",
        "claim_h": "Register your purchase",
        "claim_help": "Scratch the stamp and enter the PIN. Only the first correct entry "
                      "claims the product.",
        "pin": "PIN (under the scratch-off)",
        "claim_btn": "Claim",
        "report_h": "Report a suspected fake",
        "report_text": "What happened (where you bought it, price, anything odd)",
        "report_contact": "Contact (optional)",
        "report_btn": "Send report",
        "report_done": "Thank you. Your report was stored and will be reviewed.",
        "lookup_h": "Look up a stamp number",
        "lookup_help": "Type the number printed on the stamp (23 characters, dashes allowed).",
        "number": "Stamp number",
        "lookup_btn": "Look up",
        "lang_other": "Tiếng Việt",
        "claim_ok": "Claimed: this product is now registered as yours.",
        "claim_wrong": "Wrong PIN. {left} attempts left.",
        "claim_locked": "Claiming is locked after too many wrong PINs. Please contact the "
                        "manufacturer.",
        "claim_mistyped": "The PIN looks mistyped (its check character does not match). This "
                          "try was not counted.",
        "claim_already": "This stamp was claimed before. If you just bought it, it may be a "
                         "copy.",
        "claim_inactive": "This stamp was taken out of circulation: it cannot be claimed.",
        "claim_refused": "This stamp cannot be claimed.",
        "slow_down": "Too many requests. Please try again later.",
        "typo": "The number looks mistyped (its check character does not match). Check each "
                "character.",
        "malformed": "This is not a valid stamp number.",
        "location": "Share my approximate location",
        "location_help": "Optional. Only a rounded position (about 10 km) is sent; it helps "
                         "find copied stamps.",
        "location_done": "Thank you for sharing your approximate location.",
        "privacy": "This page sets no cookies. Each view is recorded as an anonymous scan.",
        "not_found": "Page not found.",
        "home_help": "Scan the QR code on the stamp, or type the stamp number below.",
        "forged_help": "If you bought this product, keep the receipt and tell the seller and "
                       "the market surveillance authority.",
    },
}

# status -> (tone, vi headline, vi advice, en headline, en advice)
_V: dict[Status, tuple[str, str, str, str, str]] = {
    Status.AUTHENTIC: ("good", "Hàng chính hãng", "Tem hợp lệ, do đơn vị phát hành ký.",
                       "Genuine", "A valid stamp signed by its issuer."),
    Status.ALREADY_CLAIMED: ("warn", "Đã được xác nhận trước đó",
                             "Tem thật nhưng đã có người xác nhận mua. Nếu bạn vừa mua, đây có "
                             "thể là hàng sao chép.",
                             "Already claimed",
                             "A genuine stamp, but someone claimed it before. If you just "
                             "bought this, it may be a copy."),
    Status.SUSPECTED_CLONE: ("bad", "Nghi ngờ bị sao chép",
                             "Mã thật nhưng đã bị sao chép: có thể sản phẩm này là hàng giả.",
                             "Suspected copy",
                             "A genuine code, but copies of it are in circulation: this item "
                             "may be one of them."),
    Status.RECALLED: ("bad", "Sản phẩm bị thu hồi", "Không sử dụng. Liên hệ nơi bán.",
                      "Recalled", "Do not use it. Contact the seller."),
    Status.STOLEN: ("bad", "Hàng bị báo mất cắp", "Tem thuộc lô hàng bị báo mất cắp.",
                    "Reported stolen", "This stamp belongs to goods reported stolen."),
    Status.DECOMMISSIONED: ("bad", "Tem đã bị vô hiệu hóa",
                            "Tem thật nhưng đã ngừng lưu hành: không nên được bán.",
                            "Decommissioned",
                            "A genuine stamp taken out of circulation: it should not be on "
                            "sale."),
    Status.KEY_REVOKED: ("bad", "Không xác thực được",
                         "Khóa của đơn vị phát hành đã bị thu hồi.",
                         "Not genuine", "The issuer's key was revoked."),
    Status.KEY_EXPIRED: ("bad", "Không xác thực được", "Khóa phát hành đã hết hạn.",
                         "Not genuine", "The issuer's key had expired."),
    Status.UNVERIFIABLE: ("warn", "Chưa kiểm tra được",
                          "Số tem hợp lệ về hình thức nhưng dịch vụ này không kiểm tra được.",
                          "Cannot check", "A well-formed number this service cannot check."),
    Status.BAD_CHECK_CHARACTER: ("warn", "Có thể gõ sai",
                                 "Ký tự kiểm tra không khớp: hãy kiểm tra lại số tem.",
                                 "Probably mistyped",
                                 "The check character does not match: check the number."),
}
_NOT_GENUINE = ("bad", "KHÔNG phải hàng chính hãng",
                "Mã này không do đơn vị phát hành tạo ra hoặc đã bị sửa. Đừng tin thông tin "
                "in trên sản phẩm.",
                "NOT genuine",
                "This code was not issued by the issuer or was altered. Do not trust what the "
                "package says.")


def verdict(status: Status, lang: str) -> tuple[str, str, str]:
    """``(tone, headline, advice)`` of a status in ``lang``; tone is good, warn or bad."""
    v = _V.get(status, _NOT_GENUINE)
    return (v[0], v[1], v[2]) if lang == "vi" else (v[0], v[3], v[4])


VERDICTS = {s: {lang: verdict(s, lang) for lang in LANGS} for s in Status}


def language(query_lang: str | None, accept: str | None) -> str:
    """``vi`` unless ``?lang=en`` or Accept-Language prefers English to Vietnamese."""
    if query_lang in LANGS:
        return query_lang
    if not accept:
        return "vi"
    best, best_q = "vi", -1.0
    for part in accept.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGS and q > best_q:
            best, best_q = base, q
    return best
