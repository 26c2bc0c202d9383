from django.urls import reverse


def test_pages_follow_the_browsers_language(login, owner):
    client = login(owner)
    chinese = client.get(reverse("customers:list"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    english = client.get(reverse("customers:list"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in chinese and "新建客户" in chinese
    assert '<html lang="en">' in english and "New customer" in english


def test_role_names_and_sort_directions_are_translated(login, owner):
    page = login(owner).get(reverse("customers:list"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "销售代表" in page  # the user menu names the role
    assert "（降序）" in page  # the sort options
