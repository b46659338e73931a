"""What every page carries around its content: the organiser's footer, from settings."""

from gateway.app import create_app
from zsb.common.settings import Settings


def test_footer_shows_the_organiser_address_and_postcode_from_settings() -> None:
    # No service is needed for a guide page: they are pointed at a closed port.
    settings = Settings(
        service_name="gateway",
        service_addresses="auth=127.0.0.1:9,registration=127.0.0.1:9",
        footer_address="山西省太原市测试路1号",
        footer_postcode="030099",
    )
    html = create_app(settings).test_client().get("/guide/process").get_data(as_text=True)
    footer = html[html.index('<footer class="site-footer"') :]
    assert "主办单位：山西省招生考试管理中心" in footer
    assert "地址：山西省太原市测试路1号" in footer and "邮编：030099" in footer


def test_the_default_footer_has_a_street_address_not_a_placeholder() -> None:
    html = create_app(Settings(service_name="gateway")).test_client().get("/guide/manual").get_data(as_text=True)
    footer = html[html.index('<footer class="site-footer"') :]
    assert "邮编：030000" not in footer  # the old placeholder postcode of the whole city
    assert "号" in footer.split("地址：", 1)[1].split("<", 1)[0]
