"""Every sentence the portal says about an outcome, in Vietnamese: what was recorded, and what tracking refused
and why (its English `detail` is for logs and API users, never shown). One place, so the wording stays one."""

from __future__ import annotations

from services.web.tracking import TrackingError

ALLOWED_KINDS = "Word (.docx), PDF (.pdf), Excel (.xlsx), OpenDocument (.odt), ảnh JPG hoặc PNG"
ALLOWED_EXTENSIONS = (".docx", ".pdf", ".xlsx", ".odt", ".jpg", ".jpeg", ".png")
BOARD_LAGS = "Bảng tổng hợp của cơ quan giao việc có thể cần ít phút để cập nhật theo thông tin này."

DONE = {
    "tiep-nhan": "Đã xác nhận tiếp nhận nhiệm vụ. Khi có kết quả, nộp báo cáo ở mục «Nộp báo cáo» bên dưới.",
    "tien-do": "Đã ghi nhận tiến độ {percent}%.",
    "bao-cao": "Đã nộp báo cáo kỳ {period} kèm {files} tệp.",
    "gia-han": "Đã gửi đề nghị gia hạn kỳ {period}. Cơ quan giao việc sẽ xem xét và trả lời.",
}

CONFLICT = {
    "acknowledge": "Không xác nhận được: nhiệm vụ đã được tiếp nhận trước đó hoặc đã bị hủy.",
    "progress": (
        "Không cập nhật được tiến độ: tỷ lệ mới không được thấp hơn tỷ lệ đã báo cáo, và nhiệm vụ đã hoàn thành "
        "hoặc đã bị hủy thì không cập nhật tiến độ nữa."
    ),
    "reports": "Không nộp được báo cáo: nhiệm vụ đã bị hủy, hoặc tệp đính kèm không thuộc nhiệm vụ này.",
    "extensions": (
        "Không gửi được đề nghị gia hạn: kỳ này đã có báo cáo, hoặc ngày đề nghị chưa muộn hơn hạn hiện tại."
    ),
    "files": "Không nhận được tệp: nhiệm vụ đã bị hủy.",
}
INVALID = {
    "acknowledge": "Không xác nhận được tiếp nhận. Vui lòng tải lại trang rồi thử lại.",
    "progress": "Tỷ lệ hoàn thành phải là số nguyên từ 0 đến 100; ghi chú không quá 5.000 ký tự.",
    "reports": "Thông tin báo cáo chưa hợp lệ: kiểm tra kỳ báo cáo, ghi chú (không quá 5.000 ký tự) và các tệp.",
    "extensions": (
        "Đề nghị gia hạn chưa hợp lệ: cần chọn kỳ, ghi ngày đề nghị muộn hơn hạn hiện tại và nêu lý do "
        "(không quá 5.000 ký tự)."
    ),
    "files": "Tệp gửi lên chưa hợp lệ. Vui lòng chọn lại tệp.",
}


def mb(limit: int) -> str:
    return f"{limit / (1024 * 1024):g}".replace(".", ",")


def too_large(file_name: str, limit: int) -> str:
    return f"Tệp «{file_name}» lớn hơn giới hạn {mb(limit)} MB cho mỗi tệp. Vui lòng nén hoặc chia nhỏ rồi gửi lại."


def not_allowed(file_name: str) -> str:
    return f"Hệ thống không nhận loại tệp «{file_name}». Chỉ nhận tệp {ALLOWED_KINDS}."


def mismatch(file_name: str) -> str:
    return (
        f"Nội dung tệp «{file_name}» không đúng với phần đuôi của tên tệp, nên hệ thống không nhận. Vui lòng kiểm "
        f"tra lại tệp (chỉ nhận {ALLOWED_KINDS})."
    )


def wait(seconds: int | None) -> str:
    after = f"khoảng {seconds} giây" if seconds else "ít phút"
    return f"Có quá nhiều yêu cầu trong thời gian ngắn. Vui lòng đợi {after} rồi thử lại."


UNAVAILABLE = (
    "Hệ thống theo dõi tạm thời chưa trả lời được, nên thông tin vừa nhập chưa được ghi nhận. "
    "Vui lòng thử lại sau ít phút."
)
FORBIDDEN = "Đường dẫn đang dùng không có quyền xem hoặc thao tác trên nhiệm vụ này."
NOT_FOUND = "Không tìm thấy nhiệm vụ hoặc tệp này. Có thể đường dẫn đã gõ sai hoặc không thuộc cơ quan của mình."
SESSION_OVER = (
    "Phiên làm việc đã hết hạn hoặc đường dẫn đã bị thu hồi. Vui lòng mở lại đường dẫn trong thư điện tử gần nhất "
    "của hệ thống, hoặc đề nghị gửi đường dẫn mới."
)
NO_CSRF = (
    "Biểu mẫu đã hết hiệu lực hoặc không được gửi từ trang của hệ thống, nên không được ghi nhận. "
    "Vui lòng tải lại trang rồi gửi lại."
)


def refusal(error: TrackingError, action: str, file_name: str = "") -> str:
    """What to tell a person when tracking refused `action` (acknowledge, progress, reports, extensions, files)."""
    if error.status == 0 or error.status >= 500:
        return UNAVAILABLE
    fixed = {401: SESSION_OVER, 403: FORBIDDEN, 404: NOT_FOUND, 429: wait(error.retry_after)}
    if error.status in fixed:
        return fixed[error.status]
    if error.status == 413:
        return too_large(file_name or "đã chọn", error.limit or 20 * 1024 * 1024)
    if error.status == 415:
        return mismatch(file_name) if error.reason == "type_mismatch" else not_allowed(file_name)
    if error.status == 409:
        return CONFLICT.get(action, CONFLICT["reports"])
    return INVALID.get(action, INVALID["reports"])
