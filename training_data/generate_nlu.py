"""Write training_data/nlu.yml from the phrasings below (run from the repo root after editing them).

The phrasings are written by hand. The script combines question patterns with the names citizens use
for procedures (with the abbreviations: cccd, gplx, sổ đỏ, bhyt, hộ khẩu…), adds a copy without
diacritics for part of them (many people type without), and samples a fixed number per intent with a
fixed seed so the file is stable. Entity annotations use Rasa's [text](entity) syntax.
Examples whose entities would not fall on the project tokenizer's word boundaries are left out; that
check needs Rasa, so run it in .venv-rasa from the repo root:
`PYTHONPATH=. .venv-rasa/bin/python training_data/generate_nlu.py`.
"""

from __future__ import annotations

import logging
import random
import re
import unicodedata
from pathlib import Path

import yaml

try:
    from bot.components.underthesea_tokenizer import default_fixed_words, segment, word_spans
except ImportError:  # no Rasa in this environment: alignment is left to tests/rasa
    segment = None

log = logging.getLogger(__name__)

OUT = Path(__file__).resolve().parent / "nlu.yml"
SEED = 20260701

# Procedure mentions as people say them; the value after "=" is the synonym target (canonical name).
PROCEDURES = [
    "giấy khai sinh", "khai sinh", "đăng ký khai sinh", "làm khai sinh", "khai sinh cho con",
    "khai tử", "giấy chứng tử", "đăng ký khai tử", "báo tử",
    "đăng ký kết hôn", "giấy kết hôn", "đăng ký kết hôn với người nước ngoài",
    "xác nhận tình trạng hôn nhân", "giấy xác nhận độc thân",
    "đăng ký thường trú", "nhập hộ khẩu", "hộ khẩu", "chuyển hộ khẩu", "thường trú",
    "đăng ký tạm trú", "tạm trú", "gia hạn tạm trú", "khai báo tạm vắng",
    "xóa đăng ký thường trú", "cắt hộ khẩu",
    "căn cước", "cccd", "làm căn cước", "căn cước công dân", "cấp đổi cccd", "cấp lại căn cước",
    "làm lại cccd bị mất", "căn cước cho trẻ em",
    "hộ chiếu", "làm hộ chiếu", "passport", "báo mất hộ chiếu",
    "lý lịch tư pháp", "phiếu lý lịch tư pháp", "lý lịch tư pháp số 2",
    "sổ đỏ", "làm sổ đỏ", "sang tên sổ đỏ", "cấp đổi sổ đỏ", "tách thửa", "sổ hồng",
    "giấy chứng nhận quyền sử dụng đất",
    "đăng ký hộ kinh doanh", "giấy phép kinh doanh hộ cá thể", "tạm ngừng kinh doanh",
    "mã số thuế cá nhân", "đăng ký mã số thuế",
    "giấy phép xây dựng", "xin phép xây nhà",
    "bằng lái xe", "gplx", "đổi bằng lái", "đổi gplx", "cấp lại bằng lái", "thi bằng lái xe máy",
    "đăng ký xe", "biển số xe", "sang tên xe", "cà vẹt xe", "đăng ký xe máy mới mua",
    "chứng thực bản sao", "công chứng bản sao", "chứng thực chữ ký",
    "thẻ bhyt", "bhyt", "bảo hiểm y tế", "thẻ bảo hiểm y tế cho con",
    "bhxh một lần", "rút bảo hiểm xã hội một lần", "chế độ thai sản", "hưởng tiền thai sản",
    "trích lục khai sinh", "bản sao giấy khai sinh",
    "cải chính hộ tịch", "đổi tên trong giấy khai sinh", "sửa năm sinh",
    "nhận cha con", "đăng ký giám hộ", "hộ nghèo", "đăng ký nghĩa vụ quân sự",
    "trợ cấp thất nghiệp", "mai táng phí",
    "xác nhận khuyết tật", "xác định mức độ khuyết tật", "giấy xác nhận khuyết tật",
    "trợ cấp xã hội hằng tháng", "trợ cấp người cao tuổi", "xác nhận thông tin cư trú",
    "giấy xác nhận cư trú", "hỗ trợ mai táng phí", "chế độ tử tuất", "đăng ký nhận con nuôi",
    "chứng thực hợp đồng", "tài khoản định danh điện tử mức 2", "vneid mức 2",
]
ABBREVIATIONS = Path(__file__).resolve().parent.parent / "knowledge" / "abbreviations.yaml"
PERSONS = [
    "con", "con tôi", "bé", "cháu", "vợ", "chồng", "bố", "mẹ", "bản thân", "em bé", "con nuôi",
    "bà nội", "ông ngoại", "người đã mất", "bố tôi đã mất", "mẹ tôi mới mất",
    "con 14 tuổi", "con dưới 6 tuổi", "bé 3 tuổi", "cháu 15 tuổi", "bố tôi 80 tuổi", "con 2 tháng tuổi",
]
PLACES = [
    "Hà Nội", "TP HCM", "Sài Gòn", "Đà Nẵng", "Hà Giang", "Bình Dương", "Nam Định", "Quảng Nam",
    "Cần Thơ", "Huế", "Thái Bình", "Vĩnh Phúc", "phường Ba Đình", "xã Tân Lập", "Bắc Giang", "Kiên Giang",
    "Nghệ An", "Hải Dương", "Bà Rịa Vũng Tàu", "Lâm Đồng", "Đắk Nông", "Long An",
    # Old districts, abolished in 2025 but still named by citizens.
    "quận Hoàn Kiếm", "quận 1", "quận Bình Thạnh", "huyện Gia Lâm", "huyện Củ Chi", "thị xã Sơn Tây",
    "quận Cầu Giấy", "huyện Đông Anh", "quận Hải Châu", "thành phố Thủ Đức",
]


def p(value: str) -> str:
    return f"[{value}](procedure)"


def who(value: str) -> str:
    return f"[{value}](person)"


def at(value: str) -> str:
    return f"[{value}](place)"


# Question patterns per aspect; {p} is a procedure mention.
ASPECTS: dict[str, list[str]] = {
    "ask_documents": [
        "làm {p} cho {who} cần giấy tờ gì", "{who} làm {p} cần gì",
        "làm {p} cần giấy tờ gì", "{p} cần những giấy tờ gì vậy", "hồ sơ {p} gồm những gì",
        "muốn làm {p} thì phải chuẩn bị gì", "cho hỏi thủ tục {p} cần mang theo gì",
        "đi làm {p} mang theo giấy gì", "{p} cần hồ sơ gì ạ", "thành phần hồ sơ {p}",
        "tôi cần chuẩn bị những gì để làm {p}", "làm {p} có cần bản sao không",
        "{p} phải nộp những giấy tờ nào", "giấy tờ cần thiết cho {p}", "{p} thì cần gì",
        "chuẩn bị hồ sơ {p} như nào", "xin danh sách giấy tờ {p}",
    ],
    "ask_fee": [
        "làm {p} cho {who} hết bao nhiêu tiền",
        "{p} lệ phí bao nhiêu", "làm {p} mất bao nhiêu tiền", "{p} có mất phí không",
        "phí làm {p} là bao nhiêu", "{p} tốn bao nhiêu tiền vậy", "lệ phí {p} hết bao nhiêu",
        "làm {p} có được miễn phí không", "{p} phải đóng tiền gì không", "chi phí làm {p}",
        "{p} giá bao nhiêu", "đóng phí {p} bao nhiêu ạ",
    ],
    "ask_time": [
        "làm {p} cho {who} mất bao lâu",
        "làm {p} mất bao lâu", "{p} bao lâu thì có", "{p} mấy ngày thì xong", "thời gian làm {p}",
        "nộp hồ sơ {p} bao lâu có kết quả", "{p} giải quyết trong bao nhiêu ngày", "{p} chờ bao lâu",
        "bao lâu thì nhận được {p}", "{p} có làm nhanh được không", "thời hạn giải quyết {p}",
        "hạn giải quyết {p} là bao lâu", "{p} bao nhiêu ngày làm việc", "thời hạn trả kết quả {p}",
        "{p} mấy hôm thì xong", "{p} trong bao lâu thì giải quyết xong", "nộp {p} hôm nay bao giờ có",
    ],
    "ask_place": [
        "làm {p} ở đâu", "nộp hồ sơ {p} ở đâu", "{p} thì lên đâu làm", "đi đâu để làm {p}",
        "cơ quan nào giải quyết {p}", "{p} làm ở xã hay ở tỉnh", "{p} nộp tại đâu",
        "muốn làm {p} thì đến chỗ nào", "{p} có làm ở phường được không", "chỗ nào nhận hồ sơ {p}",
        "{p} nộp ở cơ quan nào", "{p} làm ở ủy ban hay công an", "lên đâu nộp {p}",
        "{p} có phải về quê làm không", "làm {p} ở nơi tạm trú được không",
        "{p} nộp ở trung tâm hành chính công nào",
    ],
    "ask_steps": [
        "các bước làm {p}", "trình tự thủ tục {p}", "{p} làm như thế nào", "quy trình làm {p}",
        "hướng dẫn làm {p} từng bước", "cách làm {p}", "{p} thì làm sao", "{p} làm thế nào ạ",
        "thủ tục {p} tiến hành ra sao", "các bước thực hiện {p}", "{p} bắt đầu từ đâu",
        "trình tự giải quyết {p} gồm mấy bước", "chỉ giúp cách làm {p}",
    ],
    "ask_online": [
        "{p} làm online được không", "có thể nộp {p} trực tuyến không", "làm {p} trên vneid được không",
        "{p} có làm qua mạng được không", "đăng ký {p} online thế nào", "nộp {p} trên dịch vụ công",
        "{p} có dịch vụ công trực tuyến không", "làm {p} trên điện thoại được không",
        "{p} có nộp qua bưu điện được không", "không đến trực tiếp thì làm {p} được không",
    ],
    "ask_forms": [
        "mẫu tờ khai {p}", "tải mẫu đơn {p} ở đâu", "{p} dùng mẫu nào", "tờ khai {p} là mẫu gì",
        "xin mẫu đơn {p}", "{p} có mẫu tờ khai không", "điền tờ khai {p} thế nào",
        "mẫu đơn làm {p}", "form đăng ký {p}", "biểu mẫu {p}",
    ],
    "ask_result": [
        "làm {p} xong thì nhận được gì", "kết quả {p} là gì", "{p} xong được cấp giấy gì",
        "nộp {p} thì nhận lại cái gì", "{p} thì được cấp những gì", "làm xong {p} có giấy gì không",
        "kết quả giải quyết {p}", "{p} nhận kết quả dạng gì", "{p} xong có bản điện tử không",
        "nhận kết quả {p} bằng cách nào", "{p} được trả kết quả là giấy gì",
    ],
    "ask_conditions": [
        "{who} có được làm {p} không",
        "điều kiện làm {p} là gì", "ai được làm {p}", "{p} cần điều kiện gì", "có đủ điều kiện {p} không",
        "bao nhiêu tuổi thì được làm {p}", "{p} yêu cầu điều kiện gì", "trường hợp nào được {p}",
        "điều kiện để được {p}", "{p} có giới hạn độ tuổi không",
    ],
    "ask_procedure": [
        "tôi muốn làm {p}", "thủ tục {p}", "hỏi về {p}", "cho tôi hỏi về {p}", "mình cần làm {p}",
        "tư vấn giúp tôi {p}", "tôi cần làm {p} cho {who}", "{p}", "muốn hỏi thủ tục {p}",
        "tìm hiểu {p}", "làm {p} cho {who}", "thông tin về {p}", "tôi định làm {p} ở {at}",
        "em muốn đăng ký {p}", "giúp mình thủ tục {p} với",
        "hỏi thêm về {p}", "chuyển sang {p} nhé", "giờ tôi hỏi {p}", "chuyển qua hỏi {p}",
    ],
    # The previous question about another procedure: the aspect slot is kept.
    "ask_same": [
        "còn {p} thì sao", "thế còn {p}", "vậy còn {p} thì sao", "còn {p} thì thế nào", "thế {p} thì sao",
        "còn {p} thì như nào", "vậy {p} thì sao ạ", "còn với {p} thì sao", "thế còn {p} thì sao",
        "{p} thì sao", "còn {p} nữa thì sao", "còn {p}?", "vậy còn {p}", "thế còn {p} thì thế nào",
        "nếu là {p} thì sao", "còn nếu làm {p} thì sao",
    ],
    "ask_cases": [
        "các trường hợp khác của {p}", "{p} có những trường hợp nào", "{p} trường hợp đặc biệt cần gì",
        "{p} nếu ủy quyền thì cần gì thêm", "các trường hợp làm {p}",
    ],
    "ask_legal": [
        "căn cứ pháp lý của {p}", "{p} theo luật nào", "văn bản nào quy định {p}",
        "{p} quy định ở nghị định nào", "luật quy định về {p}",
    ],
    "ask_full": [
        "cho xem đầy đủ thủ tục {p}", "thông tin đầy đủ về {p}", "chi tiết thủ tục {p}",
        "xem toàn bộ thủ tục {p}", "{p} chi tiết đầy đủ",
    ],
}
# Follow-ups without a procedure: they are about the current topic.
FOLLOW_UPS: dict[str, list[str]] = {
    "ask_documents": [
        "cần giấy tờ gì", "hồ sơ gồm những gì", "phải mang theo gì", "cần chuẩn bị gì",
        "thế cần những giấy tờ gì", "giấy tờ cần có là gì", "có cần bản chính không",
        "cần mang căn cước không", "hồ sơ thế nào",
    ],
    "ask_fee": [
        "lệ phí bao nhiêu", "mất bao nhiêu tiền", "có mất phí không", "phí bao nhiêu vậy",
        "tốn bao nhiêu", "có miễn phí không", "hết bao nhiêu tiền ạ", "lệ phí thế nào", "giá bao nhiêu",
        "phải đóng tiền không",
    ],
    "ask_time": [
        "mất bao lâu", "bao lâu thì xong", "mấy ngày có kết quả", "bao lâu thì có", "chờ mấy ngày",
        "thời gian giải quyết bao lâu", "lâu không", "khi nào thì nhận được",
    ],
    "ask_place": [
        "nộp ở đâu", "làm ở đâu", "lên đâu làm", "đến cơ quan nào", "nộp chỗ nào", "đi đâu làm",
        "làm ở xã được không", "nộp ở phường nào", "ai giải quyết",
    ],
    "ask_steps": [
        "làm như thế nào", "các bước thế nào", "trình tự ra sao", "quy trình thế nào", "làm sao",
        "hướng dẫn từng bước", "cách làm thế nào", "thủ tục tiến hành thế nào",
    ],
    "ask_online": [
        "làm online được không", "nộp trực tuyến được không", "có làm trên vneid được không",
        "làm qua mạng được không", "có nộp online không", "gửi qua bưu điện được không",
        "làm trên dịch vụ công được không", "có cần đến trực tiếp không",
    ],
    "ask_forms": [
        "mẫu tờ khai đâu", "có mẫu đơn không", "tải mẫu ở đâu", "dùng mẫu nào", "tờ khai mẫu gì",
        "xin mẫu đơn", "điền tờ khai thế nào",
    ],
    "ask_result": [
        "xong thì nhận được gì", "kết quả là gì", "được cấp giấy gì", "nhận lại cái gì",
        "làm xong có giấy gì",
    ],
    "ask_conditions": [
        "cần điều kiện gì", "ai được làm", "có điều kiện gì không", "tôi có đủ điều kiện không",
        "bao nhiêu tuổi thì được làm", "có giới hạn tuổi không",
    ],
    "ask_cases": [
        "các trường hợp khác", "trường hợp khác thì sao", "còn trường hợp khác",
        "trường hợp đặc biệt thì sao",
        "xem các trường hợp khác", "nếu ủy quyền thì cần gì", "trường hợp của tôi khác thì cần gì",
        "có trường hợp nào khác không", "các trường hợp riêng",
    ],
    "ask_legal": [
        "căn cứ pháp lý", "theo luật nào", "văn bản nào quy định", "quy định ở đâu", "căn cứ vào đâu",
        "luật nào quy định vậy", "nghị định nào quy định", "cơ sở pháp lý là gì", "dựa trên văn bản nào",
    ],
    "ask_source": [
        "nguồn ở đâu", "thông tin lấy từ đâu", "nguồn thông tin", "xem nguồn", "link gốc",
        "thông tin này chính xác không, nguồn đâu", "trích từ đâu vậy", "cho xin đường link",
        "nguồn tin ở đâu", "dẫn nguồn giúp tôi",
    ],
    "ask_full": [
        "xem đầy đủ", "cho xem chi tiết", "thông tin đầy đủ", "xem toàn bộ", "chi tiết hơn",
        "nói rõ hơn được không", "cho tôi xem hết", "đầy đủ thông tin", "xem tất cả", "chi tiết đầy đủ",
    ],
}
# Follow-ups that name only a place: where to file the current procedure.
PLACE_FOLLOW_UPS = [
    "ở {at} nộp ở đâu", "{at} thì nộp chỗ nào", "tôi ở {at}, làm ở đâu", "nộp ở {at} được không",
    "ở {at} thì đến đâu", "nhà tôi ở {at} nộp chỗ nào", "làm ở {at} được không",
]
# Ordinals choosing among offered buttons; the key is the entity value (position, or "last").
ORDINALS: dict[str, list[str]] = {
    "1": ["thứ nhất", "đầu tiên", "số 1", "số một", "thứ 1", "đầu"],
    "2": ["thứ hai", "số 2", "số hai", "thứ 2"],
    "3": ["thứ ba", "số 3", "số ba", "thứ 3"],
    "4": ["thứ tư", "số 4", "số bốn", "thứ 4"],
    "5": ["thứ năm", "số 5", "số năm", "thứ 5"],
    "last": ["cuối", "cuối cùng"],
}
CHOICES = [
    "cái {o}", "chọn {o}", "{o}", "lấy cái {o}", "thủ tục {o}", "mục {o}", "tôi chọn cái {o}", "dòng {o}",
    "chọn cái {o}", "cái {o} nhé", "lựa chọn {o}", "phương án {o}", "lấy thủ tục {o}", "em chọn {o}",
]
# Papers abolished by Decree 104/2022 that officials still ask for.
ABOLISHED_PAPERS = ["sổ hộ khẩu", "hộ khẩu giấy", "sổ tạm trú", "sổ tạm trú giấy", "kt3", "sổ hộ khẩu giấy"]
# The identity card replaced by căn cước: invalid since 1 January 2025 (Luật Căn cước 2024).
ABOLISHED_IDS = ["cmnd", "chứng minh nhân dân", "chứng minh thư", "cmt"]
# The abolished_paper entity's values (NLU synonyms), which bot/domain/feedback.yml's responses test.
ABOLISHED_VALUES = {"household_book": ABOLISHED_PAPERS, "cmnd": ABOLISHED_IDS}
# Reports naming the place and what was asked: {a} an abolished paper, {x} another paper, {at} a place
# (old districts too: citizens still name them).
PAPERS = [
    "giấy khám sức khỏe", "giấy xác nhận cư trú", "bản photo công chứng", "giấy xác nhận độc thân",
    "giấy ủy quyền", "giấy xác nhận của tổ dân phố", "bản sao chứng thực", "giấy xác nhận nơi ở cũ",
]
REPORT_PLACES = [
    "Hoàn Kiếm", "quận Hoàn Kiếm", "Cầu Giấy", "quận 1", "Gia Lâm", "huyện Củ Chi", "Thủ Đức", "Hải Châu",
    "Bình Thạnh", "quận Đống Đa", "Hà Đông", "phường Hàng Trống", "Ba Đình", "Đà Nẵng", "Hà Giang",
    "Nam Định", "huyện Đông Anh", "Thanh Xuân",
]
# A report says that an office or an official (cán bộ, phường, xã, công an, bộ phận một cửa) asked for or
# forced a paper: the actor and the demand are both in the sentence.
PLACED_REPORTS = [
    "cán bộ phường bắt nộp thêm bản sao {a} khi {p} ở {at}", "làm {p} ở {at} bị cán bộ đòi {a}",
    "xã ở {at} bắt photo {a} khi làm {p}", "nộp hồ sơ {p} tại {at} mà cán bộ vẫn đòi {a}",
    "công an phường ở {at} vẫn bắt nộp {a}", "cán bộ một cửa ở {at} yêu cầu {x} khi làm {p}",
    "{p} ở {at} bị bộ phận một cửa yêu cầu nộp thêm {x}", "phường ở {at} đòi {x} không có trong danh sách",
    "bị xã bắt nộp {x} khi làm {p}", "cán bộ đòi thêm {x} khi tôi {p} ở {at}",
    "đi {p} ở {at} bị công an đòi {a}",
    "ubnd phường ở {at} bắt bổ sung {x}", "làm {p} mà cán bộ ở {at} bắt nộp {a}",
    "tôi muốn phản ánh cán bộ ở {at} đòi {x}", "phường ở {at} vẫn bắt nộp bản photo {a} khi làm {p}",
    "xã ở {at} không nhận hồ sơ {p}, bắt về xin {x}", "một cửa ở {at} trả hồ sơ {p}, bắt bổ sung {a}",
]
ABOLISHED_PAPER_REPORTS = [
    "cán bộ đòi thêm {a} dù đã bỏ rồi", "bị cán bộ đòi {a} dù đã có căn cước gắn chip", "xã vẫn bắt nộp {a}",
    "cán bộ bắt photo {a}", "phường yêu cầu mang {a}", "làm {p} mà bị phường đòi {a}",
    "nộp {p} bị công an bắt xuất trình {a}", "vẫn bị một cửa đòi {a} có đúng không",
]
# Procedure questions that name an abolished paper without any office demanding it: they ask about the
# procedure (đổi cmnd sang căn cước, tách hộ khẩu…), never a report. {i} an old identity card, {h} a paper
# household book, {a} either.
ABOLISHED_PAPER_QUESTIONS: dict[str, list[str]] = {
    "ask_procedure": [
        "đổi {i} sang [căn cước](procedure)", "đổi {i} 9 số sang [thẻ căn cước](procedure)",
        "{i} hết hạn thì làm sao", "tách [hộ khẩu](procedure) ra ở riêng", "{h} bị thu rồi thì làm sao",
        "xin giấy xác nhận số {i} cũ", "{p} còn ghi số {i} cũ thì cập nhật thế nào",
        "làm {i} cho con", "{h} còn dùng được không", "mất {i} thì làm gì",
        "sửa số {i} trên [sổ đỏ](procedure)", "chuyển từ {i} sang [cccd](procedure)",
    ],
    "ask_documents": [
        "đổi {i} sang [căn cước](procedure) cần giấy tờ gì", "tách [hộ khẩu](procedure) cần những gì",
        "làm {p} có cần {a} không", "không còn {h} thì làm {p} cần giấy gì",
        "chỉ có {i} cũ thì làm {p} mang gì", "làm {p} còn phải nộp {h} không",
    ],
    "ask_place": [
        "đổi {i} sang [căn cước](procedure) ở đâu", "tách [hộ khẩu](procedure) làm ở đâu",
        "xin xác nhận số {i} cũ ở đâu",
    ],
    "ask_fee": [
        "đổi {i} sang [cccd](procedure) mất bao nhiêu tiền", "tách [hộ khẩu](procedure) có mất phí không",
    ],
    "ask_time": [
        "đổi {i} sang [căn cước](procedure) bao lâu thì có", "tách [hộ khẩu](procedure) mất mấy ngày",
    ],
    "ask_online": [
        "đổi {i} sang [căn cước](procedure) online được không",
        "tách [hộ khẩu](procedure) trên vneid được không",
    ],
    "ask_steps": [
        "tách [hộ khẩu](procedure) riêng thì làm thế nào",
        "đổi {i} thành [căn cước](procedure) các bước ra sao",
        "{h} cũ bị mất thì chứng minh nơi ở thế nào",
    ],
    "ask_conditions": [
        "chỉ có {i} thì có làm {p} được không", "{p} có bắt buộc không", "khi nào bắt buộc phải làm {p}",
        "không có {h} có làm {p} được không",
    ],
}
# Offices named in procedure questions (where to file, who comes, what they decide), with no demand.
OFFICES = [
    "ubnd xã", "ubnd phường", "phường", "xã", "công an phường", "công an xã", "bộ phận một cửa",
    "cán bộ tư pháp", "cán bộ xã", "trung tâm phục vụ hành chính công", "phường cũ", "xã cũ",
]
OFFICE_QUESTIONS: dict[str, list[str]] = {
    "ask_place": [
        "làm {p} ở {o} được không", "nộp {p} tại {o} hay lên tỉnh", "xin {p} ở {o} hay nơi khác",
    ],
    "ask_procedure": [
        "{o} có làm {p} tại nhà không", "xin {p} ở {o} trước khi sáp nhập", "{o} có giải quyết {p} không",
        "yêu cầu cấp bản sao {p}", "nộp đơn yêu cầu {p}",
    ],
    "ask_documents": ["nộp {p} ở {o} cần mang theo gì", "lên {o} làm {p} cần những giấy gì"],
    "ask_steps": [
        "xin sửa sai sót trong {p} thế nào", "bổ sung thông tin còn thiếu trong {p} thế nào",
        "muốn xóa {p} cho người đã chuyển đi thì làm sao",
    ],
    "ask_legal": ["khiếu nại quyết định của {o} về {p}", "{o} giải quyết {p} theo quy định nào"],
}
ABOLISHED_PAPER_QUESTIONS = {
    intent: ABOLISHED_PAPER_QUESTIONS.get(intent, []) + OFFICE_QUESTIONS.get(intent, [])
    for intent in dict.fromkeys([*ABOLISHED_PAPER_QUESTIONS, *OFFICE_QUESTIONS])
}


def abolished_paper_questions(rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for intent, patterns in ABOLISHED_PAPER_QUESTIONS.items():
        for pattern in patterns:
            for _ in range(2):
                text = pattern.replace("{i}", f"[{rng.choice(ABOLISHED_IDS)}](abolished_paper)")
                text = text.replace("{h}", f"[{rng.choice(ABOLISHED_PAPERS)}](abolished_paper)")
                paper = rng.choice(ABOLISHED_PAPERS + ABOLISHED_IDS)
                text = text.replace("{a}", f"[{paper}](abolished_paper)")
                text = text.replace("{o}", rng.choice(OFFICES))
                out.append((intent, fill(text, rng)))
    return out


def ordinal(text: str, value: str) -> str:
    return f'[{text}]{{"entity": "ordinal", "value": "{value}"}}'


def choices(rng: random.Random) -> list[str]:
    out = []
    for value, words in ORDINALS.items():
        for word in words:
            for pattern in rng.sample(CHOICES, 3):
                if pattern == "{o}" and word in ("đầu", "cuối"):
                    continue
                out.append(pattern.replace("{o}", ordinal(word, value)))
                plain = strip_accents(word)
                out.append(strip_accents(pattern).replace("{o}", ordinal(plain, value)))
    return out


def placed_reports(rng: random.Random) -> list[str]:
    out = []
    for pattern in PLACED_REPORTS:
        for _ in range(2):
            text = pattern.replace("{at}", at(rng.choice(REPORT_PLACES)))
            text = text.replace("{a}", f"[{rng.choice(ABOLISHED_PAPERS + ABOLISHED_IDS)}](abolished_paper)")
            out.append(fill(text.replace("{x}", f"[{rng.choice(PAPERS)}](paper)"), rng))
    return out


def abolished_paper_reports(rng: random.Random) -> list[str]:
    out = []
    for pattern in ABOLISHED_PAPER_REPORTS:
        for paper in rng.sample(ABOLISHED_PAPERS, 2):
            out.append(fill(pattern.replace("{a}", f"[{paper}](abolished_paper)"), rng))
    return out


OTHER: dict[str, list[str]] = {
    "greet": [
        "xin chào", "chào bạn", "hello", "hi", "chào em", "alo", "chào ad", "chào buổi sáng",
        "xin chào trợ lý", "chào anh", "chào chị", "hey", "ê bot", "bạn ơi", "chao ban",
        "có ai không", "chào, cho mình hỏi chút", "kính chào", "xin chào ạ", "chào ad ạ", "hello bot",
        "hi ad", "chào buổi tối", "chào buổi chiều", "alo alo", "hế lô", "helo", "xin chao", "chao em",
        "chao ad", "em chào anh chị", "chào trợ lý ảo", "có ai ở đó không", "bot ơi", "ad ơi",
        "chào ad, em cần hỏi chút", "hi bạn", "chào cả nhà",
    ],
    "thank": [
        "cảm ơn", "cảm ơn bạn", "cám ơn nhiều", "thanks", "thank you", "ok cảm ơn nhé", "cảm ơn em",
        "cảm ơn đã giúp", "tks", "cảm ơn rất nhiều", "cam on", "hay quá cảm ơn", "được rồi cảm ơn",
        "cảm ơn nhiều nha", "thank", "cảm ơn ạ", "em cảm ơn", "cảm ơn ad", "cám ơn bạn nhiều", "thanks nhé",
        "tks bạn", "thank u", "hiểu rồi, cảm ơn", "cảm ơn trợ lý", "xin cảm ơn", "cảm ơn nhiều lắm", "camon",
        "cam on ban", "thanks ad", "cảm ơn vì thông tin", "thông tin hữu ích quá, cảm ơn",
        "cảm ơn bạn đã hướng dẫn", "tuyệt, cảm ơn", "ok tks", "mình cảm ơn", "cám ơn", "rõ rồi, cảm ơn em",
        "cảm ơn đã trả lời", "thank you nhé", "c.ơn bạn", "cảm ơn, mình hiểu rồi",
    ],
    "goodbye": [
        "tạm biệt", "bye", "chào nhé", "hẹn gặp lại", "thôi mình đi đây", "bye bye", "tam biet",
        "thế thôi nhé", "chào tạm biệt", "goodbye", "hẹn lần sau", "mình đi nhé", "thôi chào bạn",
        "tạm biệt em", "bye nhé", "chào nha, tôi phải đi", "vậy thôi, tạm biệt", "xong rồi, chào", "see you",
        "off đây", "tôi out đây", "hen gap lai", "chao tam biet", "thôi nghỉ nhé", "chúc ngủ ngon", "bai",
        "bai bai", "pp", "mình đi đây", "tôi xin phép đi trước", "hẹn gặp lại sau", "thôi mình out",
        "tạm biệt nhé", "ok bye", "thoi chao nhe", "để hôm khác hỏi tiếp", "lần sau mình hỏi tiếp",
        "tôi đi làm đây, chào", "tạm biệt, chúc một ngày tốt lành", "chúc bạn một ngày vui vẻ", "bye ad",
        "tạm biệt trợ lý", "hẹn gặp lại nhé", "thôi chào em", "mình tắt máy đây",
    ],
    "affirm": [
        "có", "vâng", "đúng rồi", "ừ", "ok", "được", "chính xác", "phải", "đồng ý", "yes", "dạ vâng",
        "đúng vậy", "oke", "có ạ", "uh", "chuẩn", "dung roi", "vang", "dạ", "dạ đúng ạ", "vâng ạ", "ừ đúng",
        "ừm", "uk", "ukm", "đúng r", "chuẩn rồi", "ok luôn", "oki", "okela", "đc", "dc", "được đấy",
        "có chứ", "phải rồi", "chính nó", "đúng cái đó", "đúng thủ tục đó", "yes ạ", "ừ được",
        "vâng đúng rồi ạ", "có, đúng rồi", "chuẩn luôn", "ờ", "uhm đúng", "đồng ý nhé", "ok em", "được đó",
        "đúng là cái đó", "phải đó", "co a", "dạ phải",
    ],
    "deny": [
        "không", "không phải", "sai rồi", "không đúng", "no", "không cần", "chưa", "không ạ",
        "khong", "không phải cái đó", "nhầm rồi", "không muốn", "không cần đâu", "ko", "k", "hông", "hok",
        "khum", "ko phải", "k phải", "ko đúng", "sai r", "nhầm r", "dạ không", "dạ không phải",
        "không phải thủ tục đó", "không phải ý tôi", "ý tôi không phải vậy", "chưa đúng", "không chính xác",
        "nope", "không, sai rồi", "ko cần", "k cần đâu", "thôi không cần", "chưa ạ", "không phải đâu",
        "không đồng ý", "không phải cái này", "sai", "nhầm", "chưa phải", "ko ạ", "khong phai", "sai roi",
        "không, cái khác cơ", "không hề", "ko muốn", "không cần nữa", "chưa cần", "không phải vậy",
    ],
    "request_human": [
        "cho tôi nói chuyện với người thật", "gặp cán bộ", "số hotline là gì", "tôi muốn gặp nhân viên",
        "cho xin số điện thoại tổng đài", "có ai tư vấn trực tiếp không", "liên hệ cán bộ thế nào",
        "đường dây nóng", "cho gặp người hỗ trợ", "tôi cần người thật giúp", "số điện thoại của phường",
        "gọi cho ai để hỏi", "chuyển cho nhân viên", "bot không hiểu, cho gặp người",
        "số hotline ở {at}", "liên hệ trung tâm hành chính công {at}", "muốn gặp cán bộ ở {at}",
        "cho xin số điện thoại ủy ban {at}", "tổng đài hỗ trợ dịch vụ công", "nói chuyện với tư vấn viên",
        "cho tôi số hotline", "hotline ở {at}", "số hotline {at} là bao nhiêu", "sđt cán bộ một cửa",
        "số điện thoại trung tâm phục vụ hành chính công", "liên lạc với ai để được hỗ trợ",
        "cho xin địa chỉ liên hệ ở {at}", "tôi muốn hỏi trực tiếp cán bộ", "có số zalo của cán bộ không",
        "gọi điện hỏi ở đâu", "cần người hướng dẫn trực tiếp", "ai trực điện thoại hỗ trợ",
        "cho mình xin sđt hỗ trợ", "có tổng đài viên không", "muốn nói chuyện với người", "cho gặp admin",
        "gặp người thật được không", "cho xin số điện thoại bộ phận một cửa ở {at}", "cho xin hotline",
        "kết nối với nhân viên tư vấn", "sdt ubnd xa", "hotline dịch vụ công là số mấy", "gap nguoi that",
        "chat với người thật", "tôi không muốn nói chuyện với bot", "cho số zalo hỗ trợ",
        "muốn gọi điện hỏi trực tiếp", "sdt trung tâm hành chính công {at}", "cho xin so hotline",
        "bot trả lời không đúng, cho gặp cán bộ", "có cán bộ nào trực online không", "gọi tổng đài nào",
    ],
    "report_extra_papers": [
        "cán bộ bắt nộp thêm giấy tờ không có trong danh sách",
        "phường yêu cầu tôi nộp thêm [giấy xác nhận cư trú](paper)",
        "xã bắt photo công chứng thêm nhiều giấy",
        "làm {p} mà bị đòi thêm giấy tờ",
        "nộp {p} bị yêu cầu bổ sung giấy không có trong quy định",
        "cán bộ đòi giấy tờ ngoài quy định thì làm sao",
        "bị yêu cầu thêm [giấy khám sức khỏe](paper) có đúng không",
        "họ bắt tôi nộp thêm [bản sao](paper) có đúng luật không",
        "ủy ban đòi thêm giấy tờ, phản ánh ở đâu",
        "bị làm khó khi nộp hồ sơ {p}",
        "cơ quan yêu cầu nhiều giấy hơn quy định",
        "nộp {p} bị bắt bổ sung [giấy xác nhận của tổ dân phố](paper)",
        "cán bộ không nhận hồ sơ bắt về làm thêm giấy",
        "có được đòi thêm giấy tờ không có trong thủ tục không",
        "tôi bị đòi [giấy chứng nhận độc thân](paper) dù không cần",
        "cán bộ bắt bổ sung giấy không cần thiết",
        "xã đòi thêm [xác nhận cư trú](paper) khi làm {p}", "một cửa trả hồ sơ bắt làm thêm giấy",
        "họ bắt tôi công chứng cả căn cước", "bị yêu cầu nộp [bản sao chứng thực](paper) dù đã nộp online",
        "cán bộ bảo phải xin thêm giấy ở xã cũ", "bị hạch sách giấy tờ khi làm {p}",
        "bị bắt đi xin xác nhận khắp nơi", "nộp {p} bị trả về đòi thêm giấy",
        "sao lại bắt nộp thêm giấy khi luật không yêu cầu", "bắt nộp thêm giấy có sai quy định không",
        "muốn phản ánh cán bộ đòi thêm giấy", "bi doi them giay to", "can bo bat nop them giay",
        "ho bat bo sung [giay xac nhan](paper)", "làm {p} bị đòi thêm [bản photo công chứng](paper)",
        "cán bộ một cửa đòi [giấy khám sức khỏe](paper) cho {p}", "yêu cầu giấy tờ vượt quá quy định",
        "đòi thêm [giấy ủy quyền](paper) dù tôi tự đi nộp",
        "phường bắt xin [xác nhận độc thân](paper) ở nơi cũ",
        "ubnd xã đòi thêm giấy tờ ko có trong quy định", "nộp {p} mà họ cứ đòi thêm giấy này giấy kia",
    ],
    "out_of_scope": [
        "giá vàng sjc bao nhiêu", "thời tiết ngày mai thế nào", "kết quả bóng đá tối qua",
        "kể chuyện cười đi", "cách nấu phở bò", "tỷ giá đô la hôm nay", "xổ số miền bắc hôm nay",
        "bạn bao nhiêu tuổi", "bạn có người yêu chưa", "viết code python giúp tôi", "giá xăng hôm nay",
        "chứng khoán hôm nay lên hay xuống", "phim hay tuần này", "làm sao để giảm cân",
        "hát một bài đi", "mua điện thoại nào tốt", "1 cộng 1 bằng mấy", "dịch sang tiếng anh giúp tôi",
        "đau đầu uống thuốc gì", "quán cà phê nào ngon", "gia xang hom nay", "thoi tiet ha noi",
        "lịch âm hôm nay", "ai là người giàu nhất thế giới", "vé máy bay đi đà nẵng giá bao nhiêu",
        "tư vấn đầu tư bất động sản", "cho vay tiền không", "bitcoin giá bao nhiêu", "tối nay ăn gì",
        "đội tuyển việt nam đá mấy giờ", "giá vàng nhẫn", "ty gia usd", "ket qua xo so",
        "làm thơ về mùa thu", "nhạc trẻ hay nhất", "bạn là ai", "mấy giờ rồi", "cách trồng rau sạch",
        "giá lúa hôm nay", "bảng xếp hạng ngoại hạng anh",
        "giá cà phê hôm nay", "mua vé xem phim ở đâu", "công thức làm bánh flan", "tử vi tuổi dần",
        "đặt xe grab giúp tôi", "số điện thoại nhà hàng gần đây", "bạn thích màu gì",
        "giải phương trình bậc hai",
        "cách sửa máy giặt", "trận arsenal tối nay", "giá thịt lợn", "cách chữa ho cho trẻ",
        "kể cho tôi nghe về lịch sử la mã", "cách học tiếng anh nhanh", "giá iphone mới nhất",
        "mai có mưa không", "gia dien thoai samsung", "hom nay an gi", "thoi tiet da nang",
        "ca si nao hat hay nhat", "nên mua xe máy hãng nào", "lãi suất tiết kiệm ngân hàng nào cao",
        "cách nấu canh chua", "dự báo bão", "review khách sạn vũng tàu", "tính giúp 15 nhân 23",
        "giá nhà chung cư hà nội", "xem bói tình yêu", "cách làm giàu nhanh", "nhà thuốc nào mở cửa đêm",
        "tra điểm thi đại học", "lịch chiếu phim cgv", "app nào chỉnh ảnh đẹp", "cách tải tiktok",
        "game nào hay", "wifi nhà bị chậm", "chó nhà tôi bị ốm", "tôi buồn quá", "đặt pizza giúp tôi",
        "công thức nấu bún bò", "giải bài tập toán lớp 5", "viết giúp bài văn tả mẹ", "hôm nay thứ mấy",
        "nhạc bolero hay", "ai vô địch world cup 2022", "gia vang 9999", "ty gia yen nhat", "kq xs mb",
        "tỉ số mu", "bitcoin hom nay", "thoi tiet sai gon", "cách giảm mỡ bụng", "đi đà lạt chơi gì",
        "tour phú quốc giá bao nhiêu", "kể chuyện ma đi", "bạn có biết nấu ăn không", "cách chăm sóc da mặt",
    ],
}

# Out-of-scope topics: a few phrasings each, filled with several subjects.
OUT_OF_SCOPE_TOPICS: list[tuple[list[str], list[str]]] = [
    (["cách {x}", "làm sao để {x}", "mẹo {x}", "hướng dẫn {x} với"],
     ["giảm cân", "tải tiktok", "học tiếng anh nhanh", "chụp ảnh đẹp", "ngủ ngon", "tiết kiệm tiền",
      "nuôi cá cảnh", "sửa quạt điện"]),
    (["tư vấn {x}", "tư vấn giúp tôi {x}", "nên {x} không"],
     ["đầu tư chứng khoán", "mua nhà chung cư", "chọn trường đại học", "mua bảo hiểm nhân thọ", "du học úc",
      "mua vàng tích trữ"]),
    (["giá {x} hôm nay", "{x} hôm nay giá bao nhiêu", "{x} tăng hay giảm", "gia {x} hom nay"],
     ["vàng sjc", "vàng nhẫn", "xăng ron 95", "đô la mỹ", "bitcoin", "cà phê", "hồ tiêu", "lúa gạo",
      "thịt lợn", "cổ phiếu vinamilk", "euro", "yên nhật"]),
    (["cách nấu {x}", "công thức làm {x}", "{x} nấu thế nào cho ngon", "dạy tôi làm {x}"],
     ["phở bò", "bún chả", "canh chua cá", "thịt kho tàu", "bánh flan", "chè đậu đen", "gà rang gừng",
      "cơm chiên dương châu", "bánh xèo"]),
    (["{x} uống thuốc gì", "bị {x} thì chữa thế nào", "{x} có nguy hiểm không", "mẹo chữa {x}"],
     ["đau đầu", "ho khan", "sốt cao", "đau bụng", "mất ngủ", "dị ứng da", "đau lưng", "viêm họng"]),
    (["kết quả trận {x}", "trận {x} đá mấy giờ", "tỉ số {x} tối qua", "xem trực tiếp {x} kênh nào"],
     ["việt nam gặp thái lan", "mu gặp liverpool", "arsenal", "real madrid", "barca", "chelsea",
      "hà nội fc"]),
    (["thời tiết {x} thế nào", "{x} có mưa không", "dự báo thời tiết {x}", "{x} trời nóng không"],
     ["hôm nay", "ngày mai", "cuối tuần", "tuần sau", "tối nay", "sáng mai"]),
    (["mua {x} loại nào tốt", "{x} hãng nào bền", "nên mua {x} nào", "{x} giá rẻ mua ở đâu"],
     ["điện thoại", "tivi", "máy giặt", "xe đạp điện", "laptop", "tủ lạnh", "điều hòa", "nồi chiên"]),
    (["viết {x} giúp tôi", "soạn giúp mình {x}", "làm hộ tôi {x}"],
     ["code python", "bài văn tả mẹ", "email xin nghỉ phép", "bài thơ tình", "bài luận tiếng anh",
      "slide thuyết trình"]),
    (["ai là {x}", "cho hỏi ai là {x}"],
     ["người giàu nhất thế giới", "tổng thống mỹ", "ca sĩ hát hay nhất", "cầu thủ giỏi nhất",
      "người phát minh ra bóng đèn"]),
    (["số điện thoại {x}", "cho xin số {x}"],
     ["nhà hàng gần đây", "taxi mai linh", "tiệm sửa xe gần nhất", "cửa hàng điện máy", "quán lẩu ngon"]),
    (["phim {x} hay không", "xem phim {x} ở đâu", "review phim {x}"],
     ["bố già", "mai", "hành động mỹ", "hàn quốc mới", "kinh dị"]),
    (["kết quả xổ số {x}", "xổ số {x} hôm nay", "dò vé số {x}", "xs {x} hôm qua"],
     ["miền bắc", "miền nam", "vietlott", "power 655", "miền trung", "đồng nai"]),
]
SMALL_TALK = [
    "bạn bao nhiêu tuổi", "bạn tên gì", "bạn là ai", "bạn có người yêu chưa", "bạn thích ăn gì",
    "bạn sống ở đâu", "bạn có buồn không", "bạn là trai hay gái", "bạn có thông minh không",
    "bạn biết hát không", "ban ten gi", "ban la ai vay", "bạn ăn cơm chưa", "bạn có mệt không",
    "tôi chán quá", "kể chuyện vui đi", "nói gì vui vui đi", "bạn có thích tôi không",
    "bây giờ là mấy giờ", "hôm nay ngày mấy", "hôm nay là ngày bao nhiêu âm lịch",
]


def strip_accents(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(ch for ch in text if unicodedata.category(ch) != "Mn"))


def fill(pattern: str, rng: random.Random) -> str:
    text = pattern
    if "{p}" in text:
        text = text.replace("{p}", p(rng.choice(PROCEDURES)), 1)
    if "{who}" in text:
        text = text.replace("{who}", who(rng.choice(PERSONS)), 1)
    if "{at}" in text:
        text = text.replace("{at}", at(rng.choice(PLACES)), 1)
    return text


SOCIAL = {"greet", "thank", "goodbye", "affirm", "deny", "choose_option", "ask_source", "ask_full"}


def decorate(text: str, rng: random.Random, polite: bool = True) -> str:
    """Vary politeness markers and punctuation as people type."""
    roll = rng.random() if polite else 1.0
    if roll < 0.15:
        text = "cho hỏi " + text
    elif roll < 0.25:
        text = text + " ạ"
    elif roll < 0.32:
        text = "ad ơi " + text
    if rng.random() < 0.45:
        text += rng.choice(["?", "??", " ?", "."])
    if rng.random() < 0.2:
        text = text[0].upper() + text[1:]
    return text


CHILDREN = ["con", "con tôi", "bé", "cháu", "em bé", "bé nhà tôi"]
DECEASED = ["người đã mất", "bố tôi đã mất", "mẹ tôi mới mất", "bà nội", "ông ngoại", "bố", "mẹ"]


def sensible_people(pattern: str) -> list[str]:
    """Who a context sentence can be about: a newborn is a child, the deceased is a relative."""
    if "sinh" in pattern:
        return CHILDREN
    if any(word in pattern for word in ("mất", "qua đời", "tử")):
        return [x for x in DECEASED if "mất" not in x]
    return [x for x in PERSONS if x not in DECEASED and "mất" not in x]


def with_person_context(rng: random.Random) -> list[str]:
    """Sentences where who it is for comes first, as in "con tôi mới sinh, làm giấy khai sinh cần gì"."""
    contexts = [
        ("{c} mới sinh, làm " + p("giấy khai sinh") + " cần gì", "ask_documents", "con tôi"),
        ("{c} mới sinh được 1 tháng, " + p("đăng ký khai sinh") + " ở đâu", "ask_place", "bé nhà tôi"),
        ("{c} mất rồi, làm " + p("giấy chứng tử") + " cần những gì", "ask_documents", "bố tôi"),
        ("{c} vừa qua đời, " + p("khai tử") + " ở đâu", "ask_place", "ông ngoại"),
        ("làm " + p("thẻ bhyt") + " cho {c} cần gì", "ask_documents", "con"),
        ("{c} làm " + p("căn cước") + " lần đầu mất bao lâu", "ask_time", "con tôi 14 tuổi"),
        ("đăng ký " + p("thường trú") + " cho {c} về nhà chồng cần gì", "ask_documents", "vợ"),
        ("{c} người nước ngoài, " + p("đăng ký kết hôn") + " ở đâu", "ask_place", "vợ sắp cưới"),
        ("làm " + p("hộ chiếu") + " cho {c} dưới 14 tuổi cần giấy gì", "ask_documents", "con"),
        ("{c} đã mất thì " + p("xóa hộ khẩu") + " thế nào", "ask_steps", "mẹ tôi"),
        ("làm " + p("giấy khai sinh") + " cho {c} lệ phí bao nhiêu", "ask_fee", "cháu"),
        ("làm " + p("lý lịch tư pháp") + " cho {c} mất mấy ngày", "ask_time", "bản thân"),
        ("{c} sinh ở bệnh viện, " + p("khai sinh") + " online được không", "ask_online", "con tôi"),
        ("{c} mất ở bệnh viện, " + p("đăng ký khai tử") + " cần mẫu gì", "ask_forms", "bố"),
        ("đăng ký " + p("tạm trú") + " cho {c} đi học ở " + at("Hà Nội") + " cần gì", "ask_documents",
         "con"),
        ("{c} muốn " + p("đổi bằng lái") + " ở " + at("Bình Dương") + " nộp ở đâu", "ask_place", "chồng tôi"),
        ("cấp lại " + p("căn cước") + " cho {c} bị mất ví", "ask_procedure", "bản thân"),
    ]
    out = []
    for pattern, intent, person in contexts:
        text = pattern.replace("{c}", who(person))
        out.append(f"{intent}\t{text}")
        alt = rng.choice(sensible_people(pattern))
        out.append(f"{intent}\t{pattern.replace('{c}', who(alt))}")
    return out


ENTITY_MARKUP = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def entities_align(text: str) -> bool:
    """Whether every annotated entity starts and ends on a word boundary of the project tokenizer."""
    if segment is None or "](" not in text:
        return True
    plain, entity_spans, last = "", [], 0
    for match in ENTITY_MARKUP.finditer(text):
        plain += text[last : match.start()]
        entity_spans.append((len(plain), len(plain) + len(match.group(1))))
        plain += match.group(1)
        last = match.end()
    plain += text[last:]
    spans = word_spans(plain, segment(plain, default_fixed_words()))
    starts, ends = {start for start, _ in spans}, {end for _, end in spans}
    return all(start in starts and end in ends for start, end in entity_spans)


def examples(rng: random.Random) -> dict[str, list[str]]:
    data: dict[str, set[str]] = {}

    def add(intent: str, text: str) -> None:
        for variant in (text, strip_accents(text)) if rng.random() < 0.5 else (text,):
            if entities_align(variant):
                data.setdefault(intent, set()).add(variant)
            else:
                log.info("left out (entity not on word boundaries): %s", variant)

    for intent, patterns in ASPECTS.items():
        for pattern in patterns:
            for _ in range(3):
                add(intent, decorate(fill(pattern, rng), rng))
    for intent, phrases in FOLLOW_UPS.items():
        for phrase in phrases:
            add(intent, decorate(phrase, rng))
            add(intent, decorate(rng.choice(["còn ", "thế ", "vậy ", "thế còn ", ""]) + phrase, rng))
    for phrase in PLACE_FOLLOW_UPS:
        for _ in range(3):
            add("ask_place", decorate(fill(phrase, rng), rng))
    for intent, phrases in OTHER.items():
        for phrase in phrases:
            add(intent, decorate(fill(phrase, rng), rng, polite=intent not in SOCIAL))
            if intent in SOCIAL:
                add(intent, phrase)
    for patterns, subjects in OUT_OF_SCOPE_TOPICS:
        for subject in rng.sample(subjects, min(4, len(subjects))):
            add("out_of_scope", decorate(rng.choice(patterns).replace("{x}", subject), rng))
    for phrase in SMALL_TALK:
        add("out_of_scope", decorate(phrase, rng))
    # People often type only the procedure's name.
    for procedure in rng.sample(PROCEDURES, 30):
        add("ask_procedure", decorate(p(procedure), rng, polite=False))
    for text in choices(rng):
        add("choose_option", text)
    for text in abolished_paper_reports(rng):
        add("report_extra_papers", text)
    for line in with_person_context(rng):
        intent, text = line.split("\t")
        add(intent, text)
    # Place mentions inside procedure questions.
    for _ in range(40):
        intent = rng.choice(["ask_place", "ask_documents", "ask_fee", "ask_procedure"])
        pattern = rng.choice(ASPECTS[intent])
        add(intent, fill(pattern, rng) + rng.choice([" ở ", " tại "]) + at(rng.choice(PLACES)))
    # Last, so that the examples above stay as they were: reports naming the place and the paper.
    for text in placed_reports(rng):
        add("report_extra_papers", decorate(text, rng))
    # After the reports (same reason): the counter-examples, with and without accents (unaccented "doi"
    # is both đổi and đòi).
    for intent, text in abolished_paper_questions(rng):
        text = decorate(text, rng)
        for variant in (text, strip_accents(text)):
            if entities_align(variant):
                data.setdefault(intent, set()).add(variant)
    return {intent: sorted(texts) for intent, texts in sorted(data.items())}


def synonyms() -> dict[str, list[str]]:
    """The search's list of citizens' terms (knowledge/abbreviations.yaml) as NLU synonyms: one list."""
    entries = yaml.safe_load(ABBREVIATIONS.read_text(encoding="utf-8"))["entries"]
    out: dict[str, list[str]] = {}
    # Synonyms are global: an abolished paper's names map to its abolished_paper value, not to the
    # procedure the search reads them as (the actions read procedure mentions as typed).
    seen: set[str] = set()
    for value, names in ABOLISHED_VALUES.items():
        for name in names:
            for variant in dict.fromkeys([name, strip_accents(name)]):
                seen.add(variant.lower())
                if variant.lower() != value:
                    out.setdefault(value, []).append(variant)
    for entry in entries:
        means = entry["means"]
        for term in entry["terms"]:
            for variant in dict.fromkeys([term, strip_accents(term)]):
                key = variant.lower()
                if len(key) < 3 or key in seen or key == means.lower():
                    continue
                seen.add(key)
                out.setdefault(means, []).append(variant)
    return out


def synonyms_yaml() -> list[str]:
    lines = []
    for canonical, variants in synonyms().items():
        lines += [f"- synonym: {canonical}", "  examples: |"]
        lines += [f"    - {variant}" for variant in variants]
    return lines


def regex_yaml() -> list[str]:
    """Ordinal and abolished-paper patterns, as features for DIET."""
    def alternatives(phrases: list[str]) -> str:
        both = set(phrases) | {strip_accents(phrase) for phrase in phrases}
        return "|".join(sorted(both, key=len, reverse=True))

    words = alternatives([word for words in ORDINALS.values() for word in words])
    papers = alternatives(ABOLISHED_PAPERS + ABOLISHED_IDS)
    return [
        "- regex: ordinal", "  examples: |", "    - \\b(" + words + ")\\b",
        "- regex: abolished_paper", "  examples: |", "    - \\b(" + papers + ")\\b",
    ]


def main() -> None:
    rng = random.Random(SEED)
    data = examples(rng)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in data.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text in texts]
    lines += synonyms_yaml()
    lines += regex_yaml()
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts = ", ".join(f"{intent} {len(texts)}" for intent, texts in data.items())
    print(f"{OUT}: {sum(len(t) for t in data.values())} examples ({counts})")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
