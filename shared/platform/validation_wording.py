"""The Vietnamese for the validation errors pydantic reports in English (its `msg`), by their stable `type`: the
`detail` of a 422 reads in Vietnamese while each entry of `errors` keeps pydantic's own `msg` for programs. A type
not listed here keeps pydantic's message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.domain.wording import Wording

# pydantic error type -> Vietnamese message; `{name}` is filled from the error's `ctx`
_MESSAGES: dict[str, str] = {
    "missing": "thiếu trường bắt buộc",
    "extra_forbidden": "trường này không được phép (không có trong mẫu dữ liệu)",
    "string_type": "cần một chuỗi văn bản",
    "int_type": "cần một số nguyên",
    "int_parsing": "cần một số nguyên",
    "int_from_float": "cần một số nguyên, không phải số thập phân",
    "float_type": "cần một số",
    "float_parsing": "cần một số",
    "bool_type": "cần giá trị true hoặc false",
    "bool_parsing": "cần giá trị true hoặc false",
    "list_type": "cần một danh sách",
    "dict_type": "cần một đối tượng JSON",
    "model_type": "cần một đối tượng JSON",
    "model_attributes_type": "cần một đối tượng JSON",
    "json_invalid": "không phải JSON hợp lệ",
    "json_type": "không phải JSON hợp lệ",
    "string_too_short": "quá ngắn (tối thiểu {min_length} ký tự)",
    "string_too_long": "quá dài (tối đa {max_length} ký tự)",
    "too_short": "quá ít phần tử (tối thiểu {min_length})",
    "too_long": "quá nhiều phần tử (tối đa {max_length})",
    "string_pattern_mismatch": "không đúng dạng cho phép",
    "greater_than": "phải lớn hơn {gt}",
    "greater_than_equal": "phải lớn hơn hoặc bằng {ge}",
    "less_than": "phải nhỏ hơn {lt}",
    "less_than_equal": "phải nhỏ hơn hoặc bằng {le}",
    "literal_error": "chỉ nhận một trong các giá trị {expected}",
    "enum": "chỉ nhận một trong các giá trị {expected}",
    "date_type": "cần một ngày (YYYY-MM-DD)",
    "date_parsing": "không phải ngày hợp lệ (YYYY-MM-DD)",
    "date_from_datetime_parsing": "không phải ngày hợp lệ (YYYY-MM-DD)",
    "datetime_type": "cần một thời điểm (ISO 8601)",
    "datetime_parsing": "không phải thời điểm hợp lệ (ISO 8601)",
    "datetime_from_date_parsing": "không phải thời điểm hợp lệ (ISO 8601)",
    "timezone_aware": "thời điểm cần ghi rõ múi giờ, ví dụ 2026-07-01T08:00:00+07:00",
    "url_parsing": "không phải địa chỉ URL hợp lệ",
    "url_scheme": "địa chỉ URL phải bắt đầu bằng {expected_schemes}",
    "uuid_parsing": "không phải mã UUID hợp lệ",
    "value_error": "giá trị không hợp lệ: {error}",
    "assertion_error": "giá trị không hợp lệ: {error}",
}


def vietnamese_message(error: Mapping[str, Any]) -> Any:
    """One validation error's message in Vietnamese: our own `Wording` as it is, a known pydantic type in
    Vietnamese, anything else as the validator wrote it. A `value_error` raised with a `Wording` (our own field
    checks) gives its Vietnamese text."""
    message = error.get("msg", "")
    if isinstance(message, Wording):
        return message.vi
    context = dict(error.get("ctx") or {})
    template = _MESSAGES.get(str(error.get("type", "")))
    if template is None:
        return message
    try:
        return template.format(**{key: value for key, value in context.items()})
    except (KeyError, IndexError, ValueError):
        return message
