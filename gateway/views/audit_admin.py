"""Admin side: the platform's audit log (审计日志) — who did what to which record, and when.

The auth service keeps the log (its security events and every service's staff actions) and
answers the search for province staff only; this page passes the filters on and labels the
codes in Chinese. Personal numbers are already masked in the log.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Blueprint, current_app, render_template, request

from gateway.errors import BackendError, call
from gateway.security import login_required
from zsb.auth.v1 import auth_pb2 as pb
from zsb.common.clock import BEIJING

bp = Blueprint("audit_admin", __name__, url_prefix="/admin")
ADMIN_MENU = [(910, "审计日志", "audit_admin.search", ("province",))]
PAGE_SIZE = 50

SERVICE_LABELS = {
    "auth": "账号与安全",
    "registration": "报名与审核",
    "identity": "身份认证",
    "payment": "网上支付",
    "preferences": "志愿填报",
    "results": "成绩与录取",
}
ACTION_LABELS = {
    # auth: security events
    "login_succeeded": "登录成功",
    "login_failed": "登录失败",
    "account_locked": "账号锁定",
    "logout": "退出登录",
    "session_idle_timeout": "会话超时",
    "sessions_revoked": "注销其他会话",
    "password_changed": "修改密码",
    "password_reset_requested": "申请重置密码",
    "password_reset_mismatch": "重置密码信息不符",
    "password_reset_bad_code": "重置密码验证码错误",
    "password_reset": "重置密码",
    "abandon_code_sent": "发送放弃报名验证码",
    "abandon_code_verified": "放弃报名验证码正确",
    "abandon_code_wrong": "放弃报名验证码错误",
    "accounts_imported": "导入考生账号",
    "staff_created": "创建管理员账号",
    # registration
    "pii_viewed": "查看考生完整信息",
    "review_approved": "资格审核通过",
    "review_rejected": "资格审核不通过",
    "point_reported": "报名点上报",
    "city_reported": "地市上报",
    "point_report_withdrawn": "报名点撤销上报",
    "city_report_withdrawn": "地市撤销上报",
    "withdrawal_allowed": "允许撤销上报",
    "withdrawal_disallowed": "取消撤销上报许可",
    "reference_replaced": "更新参考数据",
    "calendar_changed": "修改报考日程",
    "notice_saved": "保存公告",
    "notice_deleted": "删除公告",
    "page_saved": "保存页面内容",
    "hotlines_replaced": "更新咨询电话",
    "exam_settings_saved": "保存考试设置",
    "exam_site_saved": "保存考点",
    "exam_site_deleted": "删除考点",
    "exam_session_saved": "保存考试科目场次",
    "exam_session_deleted": "删除考试科目场次",
    "arrangement_run": "考场编排",
    "arrangement_published": "发布考场编排",
    "arrangement_discarded": "放弃考场编排",
    # identity
    "identity_approved": "身份人工审核通过",
    "identity_rejected": "身份人工审核不通过",
    "photo_viewed": "查看考生照片",
    "photos_deleted": "到期删除照片",
    # payment
    "fee_set": "设置报名费",
    "reconciliation_run": "对账",
    "reconciliation_failed": "对账失败",
    "reconciliation_difference": "对账差异",
    "duplicate_payment": "重复支付",
    "amount_mismatch": "支付金额不符",
    "conflicting_transaction": "支付交易冲突",
    "refund_failed": "退款失败",
    "refund_mismatch": "退款信息不符",
    "refund_amount_mismatch": "退款金额不符",
    "unknown_provider": "未知支付机构的通知",
    "notification_malformed": "支付通知格式错误",
    "notification_forged_signature": "支付通知签名伪造",
    "notification_unknown_certificate": "支付通知证书未知",
    "notification_stale": "过期的支付通知",
    "notification_wrong_merchant": "支付通知商户不符",
    "notification_unknown_order": "支付通知订单不存在",
    "notification_order_mismatch": "支付通知订单不符",
    "notification_amount_mismatch": "支付通知金额不符",
    # preferences
    "plan_imported": "导入招生计划",
    "batch_scheduled": "设置批次填报时间",
    "batches_ordered": "设置批次顺序",
    # results
    "scores_imported": "导入成绩",
    "scores_published": "发布成绩",
    "settings_saved": "保存投档设置",
    "run_started": "模拟投档",
    "run_discarded": "废弃模拟投档",
    "run_published": "发布投档结果",
    "review_window_set": "设置院校审核时间",
    "candidate_returned": "退档",
    "solicitation_opened": "发布征集计划",
}
ROLE_LABELS = {
    "province": "省招生考试管理中心",
    "city": "地市招生考试机构",
    "point": "报名点",
    "reviewer": "审核员",
    "candidate": "考生",
    "system": "系统",
}


def auth():
    return current_app.extensions["backends"].auth


def action_label(code: str) -> str:
    return ACTION_LABELS.get(code, code)


def _day(name: str) -> date | None:
    """A YYYY-MM-DD filter (Beijing date); ValueError when it is not one."""
    text = request.args.get(name, "").strip()[:10]
    return date.fromisoformat(text) if text else None


def _unix(day: date) -> int:
    """The start of a Beijing day as unix seconds."""
    return int(datetime.combine(day, time(), BEIJING).timestamp())


@bp.get("/audit")
@login_required(staff=True, roles=("province",))
def search():
    filters = {
        "actor": request.args.get("actor", "").strip()[:40],
        "subject": request.args.get("subject", "").strip()[:64],
        "service": request.args.get("service", "").strip()[:20],
        "action": request.args.get("action", "").strip()[:60],
        "since": request.args.get("since", "").strip()[:10],
        "until": request.args.get("until", "").strip()[:10],
    }
    page_arg = request.args.get("page", "1")
    page = max(int(page_arg), 1) if page_arg.isdigit() and len(page_arg) < 6 else 1
    error = ""
    try:
        since, until = _day("since"), _day("until")
    except ValueError:
        since = until = None
        error = "日期格式应为 YYYY-MM-DD"
    resp = None
    if not error:
        req = pb.SearchAuditRequest(
            actor=filters["actor"],
            subject=filters["subject"],
            service=filters["service"],
            action=filters["action"],
            since=_unix(since) if since else 0,
            until=_unix(until + timedelta(days=1)) if until else 0,  # the end date is included
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            with_actions=True,
        )
        try:
            resp = call(auth().SearchAudit, req)
        except BackendError as err:
            if err.status != 400:
                raise
            error = err.message
    total = resp.total if resp else 0
    actions: dict[str, list[tuple[str, str]]] = {}
    for a in resp.actions if resp else []:
        actions.setdefault(a.service, []).append((a.action, action_label(a.action)))
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)

    return render_template(
        "admin/audit.html",
        entries=resp.entries if resp else [],
        total=total,
        filters=filters,
        error=error,
        page=page,
        pages=pages,
        query={k: v for k, v in filters.items() if v},
        services=SERVICE_LABELS,
        actions=actions,
        action_label=action_label,
        roles=ROLE_LABELS,
    ), (400 if error else 200)
