/*
 * formgen — the static form `formpost form SITE` prints (see formgen.h).
 * One template for both languages and both kinds of form: the page text
 * comes in as variables from a ja/en table, so the markup and the script
 * exist once.  The script holds no variable (tmpl refuses them in
 * <script>); it reads its URLs and messages from data- attributes, which
 * tmpl escapes like any attribute, and writes answers with textContent.
 */
#include "formgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "pages.h"
#include "tmpl.h"

static const char form_tmpl[] =
"<!-- A contact form made by `formpost form` from the site's "
"configuration.\n"
"     Paste the style, the form and the script as they are: "
"the names, the\n"
"     rules and the hidden fields must match what the site accepts. -->\n"
"<style>\n"
".fp-form{max-width:40rem;margin:0 auto;padding:1.5rem;"
"border:1px solid #d0d7de;border-radius:12px;background:#fff;"
"color:#1f2328;font:16px/1.7 system-ui,-apple-system,\"Hiragino "
"Sans\",\"Noto Sans JP\",Meiryo,sans-serif}\n"
".fp-form *{box-sizing:border-box}\n"
".fp-form [hidden]{display:none!important}\n"
".fp-field{margin:0 0 1.25rem}\n"
".fp-field fieldset{border:0;margin:0;padding:0;min-width:0}\n"
".fp-field>label,.fp-field legend{display:block;"
"font-weight:600;margin:0 0 .3rem;padding:0}\n"
".fp-req,.fp-opt{display:inline-block;font-size:.75rem;"
"font-weight:400;line-height:1.5;padding:0 .4rem;"
"border-radius:4px;margin-left:.5rem;vertical-align:.1em;"
"color:#fff;background:#c62828}\n"
".fp-opt{background:#6e7781}\n"
".fp-form input[type=text],.fp-form input[type=email],.fp-form "
"input[type=tel],.fp-form input[type=url],.fp-form "
"input[type=file],.fp-form select,.fp-form "
"textarea{display:block;width:100%;min-height:2.9rem;"
"font:inherit;font-size:16px;padding:.6rem .75rem;border:1px "
"solid #8c959f;border-radius:8px;background:#fff;color:inherit}\n"
".fp-form textarea{min-height:10rem;resize:vertical}\n"
".fp-form input:focus,.fp-form select:focus,.fp-form "
"textarea:focus{outline:3px solid #8cb8f5;outline-offset:1px;"
"border-color:#0b62d6}\n"
".fp-form [aria-invalid=true]{border-color:#c62828;background:#fffafa}\n"
".fp-field .fp-choice{display:flex;font-weight:400;gap:.6rem;"
"align-items:center;"
"min-height:2.75rem;cursor:pointer}\n"
".fp-choice input{width:1.4rem;height:1.4rem;margin:0;"
"flex:none;accent-color:#0b62d6}\n"
".fp-error{color:#b3261e;font-size:.92rem;margin:.35rem 0 0}\n"
".fp-summary{background:#fff4f4;border:1px solid #f0b4b4;"
"border-radius:8px;padding:.75rem 1rem;margin:0 0 1.25rem}\n"
".fp-status{background:#f0f7ff;border:1px solid #9cc3f5;"
"border-radius:8px;padding:1rem;margin:0 0 1.25rem}\n"
".fp-status>:first-child{margin-top:0}\n"
".fp-status>:last-child{margin-bottom:0}\n"
".fp-status dt{font-weight:600}\n"
".fp-status dd{margin:0 0 .5rem;white-space:pre-wrap}\n"
".fp-hp{position:absolute;left:-10000px;top:auto;width:1px;"
"height:1px;overflow:hidden}\n"
".fp-submit{display:block;width:100%;font:inherit;"
"font-weight:600;min-height:3rem;margin-top:.5rem;"
"padding:.75rem 1.5rem;border:1px solid #0b62d6;"
"border-radius:8px;background:#0b62d6;color:#fff;cursor:pointer}\n"
".fp-submit:hover{background:#0a53b5}\n"
".fp-submit:focus{outline:3px solid #8cb8f5;outline-offset:2px}\n"
".fp-submit[disabled]{opacity:.6;cursor:progress}\n"
".fp-back,.fp-back:hover{background:#fff;color:#0b62d6}\n"
"@media (min-width:42rem){.fp-submit{display:inline-block;"
"width:auto;min-width:12rem;margin-right:.5rem}}\n"
"</style>\n"
"<form class=\"fp-form\" method=\"post\" action=\"{{_action}}\" "
"accept-charset=\"UTF-8\" lang=\"{{_lang}}\"{{#_multipart}} "
"enctype=\"multipart/form-data\"{{/_multipart}}{{#_token_url}} "
"data-fp-token=\"{{_token_url}}\" "
"data-fp-min-age=\"{{_token_min}}\" "
"data-fp-max-age=\"{{_token_max}}\"{{/_token_url}}{{#_fetch}} "
"data-fp-fetch=\"1\"{{/_fetch}}>\n"
"{{#_fetch}}\n"
"<div class=\"fp-summary\" role=\"alert\" tabindex=\"-1\" hidden "
"data-fp-fix=\"{{_t_fix}}\" data-fp-failed=\"{{_t_failed}}\"></div>\n"
"{{/_fetch}}\n"
"{{#_fields}}\n"
"<div class=\"fp-field\" data-fp-field=\"{{_name}}\">\n"
"{{#_is_group}}\n"
"<fieldset>\n"
"<legend>{{_label}}{{#_required}}<span "
"class=\"fp-req\">{{_t_required}}</span>{{/_required}}{{^_required"
"}}<span class=\"fp-opt\">{{_t_optional}}</span>{{/_required}}</legend>\n"
"{{#_options}}\n"
"<label class=\"fp-choice\"><input type=\"checkbox\" "
"name=\"{{_name}}\" value=\"{{_option}}\"> {{_option}}</label>\n"
"{{/_options}}\n"
"</fieldset>\n"
"{{/_is_group}}\n"
"{{#_is_consent}}\n"
"<label class=\"fp-choice\"><input type=\"checkbox\" "
"id=\"fp-{{_site}}-{{_name}}\" name=\"{{_name}}\" "
"value=\"1\"{{#_required}} required{{/_required}}> "
"<span>{{_label}}{{#_required}}<span "
"class=\"fp-req\">{{_t_required}}</span>{{/_required}}</span></label>\n"
"{{/_is_consent}}\n"
"{{#_is_labelled}}\n"
"<label "
"for=\"fp-{{_site}}-{{_name}}\">{{_label}}{{#_required}}<span "
"class=\"fp-req\">{{_t_required}}</span>{{/_required}}{{^_required"
"}}<span class=\"fp-opt\">{{_t_optional}}</span>{{/_required}}</label>\n"
"{{/_is_labelled}}\n"
"{{#_is_select}}\n"
"<select id=\"fp-{{_site}}-{{_name}}\" "
"name=\"{{_name}}\"{{#_required}} required{{/_required}}>\n"
"<option value=\"\">{{_t_select}}</option>\n"
"{{#_options}}\n"
"<option value=\"{{_option}}\">{{_option}}</option>\n"
"{{/_options}}\n"
"</select>\n"
"{{/_is_select}}\n"
"{{#_is_multiline}}\n"
"<textarea id=\"fp-{{_site}}-{{_name}}\" name=\"{{_name}}\" "
"rows=\"8\"{{#_required}} required{{/_required}}{{#_minlength}} "
"minlength=\"{{_minlength}}\"{{/_minlength}}{{#_maxlength}} "
"maxlength=\"{{_maxlength}}\"{{/_maxlength}}></textarea>\n"
"{{/_is_multiline}}\n"
"{{#_is_file}}\n"
"<input type=\"file\" id=\"fp-{{_site}}-{{_name}}\" "
"name=\"{{_name}}\"{{#_accept}} "
"accept=\"{{_accept}}\"{{/_accept}}{{#_required}} "
"required{{/_required}}>\n"
"{{/_is_file}}\n"
"{{#_is_input}}\n"
"<input type=\"{{_input_type}}\" id=\"fp-{{_site}}-{{_name}}\" "
"name=\"{{_name}}\"{{#_input_mode}} "
"inputmode=\"{{_input_mode}}\"{{/_input_mode}}{{#_autocomplete}} "
"autocomplete=\"{{_autocomplete}}\"{{/_autocomplete}}{{#_required}"
"} required{{/_required}}{{#_minlength}} "
"minlength=\"{{_minlength}}\"{{/_minlength}}{{#_maxlength}} "
"maxlength=\"{{_maxlength}}\"{{/_maxlength}}>\n"
"{{/_is_input}}\n"
"{{#_fetch}}\n"
"<p class=\"fp-error\" id=\"fp-{{_site}}-{{_name}}-error\" hidden></p>\n"
"{{/_fetch}}\n"
"</div>\n"
"{{/_fields}}\n"
"{{#_honeypot}}\n"
"<div class=\"fp-hp\" aria-hidden=\"true\" "
"inert><label>{{_t_honeypot}} <input type=\"text\" "
"name=\"{{_honeypot}}\" value=\"\" tabindex=\"-1\" "
"autocomplete=\"off\" data-lpignore=\"true\" data-1p-ignore=\"true\" "
"data-bwignore=\"true\"></label></div>\n"
"{{/_honeypot}}\n"
"{{#_token_url}}\n"
"<input type=\"hidden\" name=\"_token\" value=\"\">\n"
"{{/_token_url}}\n"
"{{#_fetch}}\n"
"<div class=\"fp-status\" role=\"status\" tabindex=\"-1\" hidden "
"data-fp-sending=\"{{_t_sending}}\" data-fp-sent=\"{{_t_sent}}\" "
"data-fp-number=\"{{_t_number}}\" "
"data-fp-carrier=\"{{_t_carrier}}\" "
"data-fp-review=\"{{_t_review}}\" data-fp-back=\"{{_t_back}}\" "
"data-fp-send=\"{{_t_submit}}\" data-fp-yes=\"{{_t_yes}}\"></div>\n"
"{{/_fetch}}\n"
"<button type=\"submit\" class=\"fp-submit\">{{#_confirm}}{{_t_check}}"
"{{/_confirm}}{{^_confirm}}{{_t_submit}}{{/_confirm}}</button>\n"
"</form>\n"
"{{#_script}}\n"
"<script>\n"
"/* formpost: the fill-time token and/or sending with fetch(). "
" The same\n"
"   script serves every formpost form on the page; it uses no "
"library. */\n"
"(function () {\n"
"  'use strict';\n"
"  function each(list, fn) { Array.prototype.forEach.call(list, fn); }\n"
"  function attr(el, k) { return (el && "
"el.getAttribute('data-fp-' + k)) || ''; }\n"
"  function part(f, name) { return f.querySelector('.fp-' + name); }\n"
"  function add(parent, tag, text) {\n"
"    var el = document.createElement(tag);\n"
"    if (text) el.textContent = text;\n"
"    parent.appendChild(el);\n"
"    return el;\n"
"  }\n"
"\n"
"  /* A post with a missing, stale or too young token is "
"dropped without a\n"
"     word, so: fetch one with the page, again when the page "
"was left open\n"
"     too long, and never send it younger than the site's min_age. */\n"
"  function getToken(f, done) {\n"
"    fetch(attr(f, 'token'), { cache: 'no-store', credentials: "
"'omit' })\n"
"      .then(function (r) { return r.json(); })\n"
"      .then(function (j) { f.elements._token.value = j.token "
"|| ''; f.fpAt = Date.now(); })\n"
"      .catch(function () { f.elements._token.value = ''; })\n"
"      .then(function () { if (done) done(); });\n"
"  }\n"
"  function tokenWait(f) {\n"
"    var age = Date.now() - (f.fpAt || 0);\n"
"    if (!attr(f, 'token')) return 0;\n"
"    if (!f.elements._token.value || age > attr(f, 'max-age') "
"* 1000 - 60000) return -1;\n"
"    return Math.max(0, attr(f, 'min-age') * 1000 + 300 - age);\n"
"  }\n"
"  function withToken(f, then) {\n"
"    var wait = tokenWait(f);\n"
"    if (wait < 0) getToken(f, function () { setTimeout(then, "
"attr(f, 'min-age') * 1000 + 300); });\n"
"    else setTimeout(then, wait);\n"
"  }\n"
"  function plainSubmit(e) {\n"
"    var f = e.currentTarget;\n"
"    if (tokenWait(f) === 0) return;\n"
"    e.preventDefault();\n"
"    withToken(f, function () { "
"HTMLFormElement.prototype.submit.call(f); });\n"
"  }\n"
"\n"
"  /* fetch(): the answer is JSON; the page stays. */\n"
"  function only(f, box) {\n"
"    each(f.children, function (el) {\n"
"      if (el.classList.contains('fp-summary') || "
"el.classList.contains('fp-status')) el.hidden = el !== box;\n"
"      else el.hidden = !!box;\n"
"    });\n"
"  }\n"
"  function busy(f, on) {\n"
"    var b = part(f, 'submit');\n"
"    b.disabled = on;\n"
"    b.textContent = on ? attr(part(f, 'status'), 'sending') : "
"b.fpText;\n"
"  }\n"
"  function clearErrors(f) {\n"
"    each(f.querySelectorAll('[data-fp-field]'), function (d) {\n"
"      var p = d.querySelector('.fp-error');\n"
"      p.hidden = true;\n"
"      p.textContent = '';\n"
"      each(d.querySelectorAll('input,select,textarea'), function (c) {\n"
"        c.removeAttribute('aria-invalid');\n"
"        c.removeAttribute('aria-describedby');\n"
"      });\n"
"    });\n"
"  }\n"
"  function showErrors(f, errors) {\n"
"    var s = part(f, 'summary'), ul, first = null;\n"
"    s.textContent = attr(s, 'fix');\n"
"    ul = add(s, 'ul');\n"
"    errors.forEach(function (er) {\n"
"      add(ul, 'li', er.message);\n"
"      each(f.querySelectorAll('[data-fp-field]'), function (d) {\n"
"        var p = d.querySelector('.fp-error');\n"
"        if (d.getAttribute('data-fp-field') !== er.field) return;\n"
"        p.textContent = er.message;\n"
"        p.hidden = false;\n"
"        each(d.querySelectorAll('input,select,textarea'), "
"function (c) {\n"
"          c.setAttribute('aria-invalid', 'true');\n"
"          c.setAttribute('aria-describedby', p.id);\n"
"          first = first || c;\n"
"        });\n"
"      });\n"
"    });\n"
"    s.hidden = false;\n"
"    (first || s).focus();\n"
"  }\n"
"  function failed(f, status) {\n"
"    var s = part(f, 'summary');\n"
"    s.textContent = attr(s, 'failed') + (status ? ' (HTTP ' + "
"status + ')' : '');\n"
"    s.hidden = false;\n"
"    s.focus();\n"
"  }\n"
"  function done(f, j) {\n"
"    var st = part(f, 'status');\n"
"    st.textContent = '';\n"
"    add(st, 'p', attr(st, 'sent'));\n"
"    add(add(st, 'p', attr(st, 'number') + ': '), 'strong', j.id);\n"
"    if (j.carrier) add(st, 'p', attr(st, "
"'carrier').split('{domain}').join(j.allow_domain || ''));\n"
"    only(f, st);\n"
"    st.focus();\n"
"  }\n"
"  /* A site with a review step answers the first post with "
"the values to\n"
"     check and a signed \"confirm\"; sending them again with it "
"sends. */\n"
"  function review(f, fd, j) {\n"
"    var st = part(f, 'status'), dl, ok, back;\n"
"    st.textContent = '';\n"
"    add(st, 'p', attr(st, 'review'));\n"
"    dl = add(st, 'dl');\n"
"    (j.fields || []).forEach(function (x) {\n"
"      var el = f.elements[x.name], v = [].concat(x.value == null ? '' : "
"x.value).join(', ');\n"
"      /* A lone checkbox is a consent: say so, not its value \"1\". */\n"
"      if (el && el.type === 'checkbox' && el.value === '1') v = el.checked ? "
"attr(st, 'yes') : '';\n"
"      add(dl, 'dt', x.label || x.name);\n"
"      add(dl, 'dd', v);\n"
"    });\n"
"    ok = add(st, 'button', attr(st, 'send'));\n"
"    back = add(st, 'button', attr(st, 'back'));\n"
"    ok.type = back.type = 'button';\n"
"    ok.className = 'fp-submit';\n"
"    back.className = 'fp-submit fp-back';\n"
"    ok.onclick = function () { fd.set('_confirm', j.confirm); "
"ok.disabled = back.disabled = true; send(f, fd); };\n"
"    back.onclick = function () { only(f, null); };\n"
"    only(f, st);\n"
"    st.focus();\n"
"  }\n"
"  function answer(f, fd, status, j) {\n"
"    if (j && j.ok && j.confirm) return review(f, fd, j);\n"
"    if (j && j.ok) return done(f, j);\n"
"    only(f, null);\n"
"    if (status === 422 && j && j.errors) showErrors(f, j.errors);\n"
"    else failed(f, status);\n"
"  }\n"
"  function send(f, fd) {\n"
"    busy(f, true);\n"
"    fetch(f.getAttribute('action'), { method: 'POST', body: "
"fd, headers: { Accept: 'application/json' } })\n"
"      .then(function (r) {\n"
"        return r.json().then(function (j) { return [r.status, "
"j]; }, function () { return [r.status, null]; });\n"
"      })\n"
"      .then(function (a) { busy(f, false); answer(f, fd, a[0],"
" a[1]); },\n"
"        function () { busy(f, false); only(f, null); failed(f, 0); });\n"
"  }\n"
"  function fetchSubmit(e) {\n"
"    var f = e.currentTarget;\n"
"    e.preventDefault();\n"
"    if (part(f, 'submit').disabled) return;\n"
"    clearErrors(f);\n"
"    part(f, 'summary').hidden = true;\n"
"    busy(f, true);\n"
"    withToken(f, function () { send(f, new FormData(f)); });\n"
"  }\n"
"\n"
"  each(document.querySelectorAll('form[data-fp-token],"
"form[data-fp-fetch]'), function (f) {\n"
"    if (f.fpInit) return;\n"
"    f.fpInit = true;\n"
"    part(f, 'submit').fpText = part(f, 'submit').textContent;\n"
"    if (attr(f, 'token')) {\n"
"      getToken(f);\n"
"      window.addEventListener('pageshow', function (e) { if "
"(e.persisted) getToken(f); });\n"
"    }\n"
"    f.addEventListener('submit', attr(f, 'fetch') ? "
"fetchSubmit : plainSubmit);\n"
"  });\n"
"}());\n"
"</script>\n"
"{{/_script}}\n";

/* The page text, by language. */
static const struct {
	const char *name, *ja, *en;
} texts[] = {
	{ "_t_required", "必須", "required" },
	{ "_t_optional", "任意", "optional" },
	{ "_t_select", "選択してください", "Please choose" },
	{ "_t_honeypot", "この欄は空のままにしてください",
	  "Leave this field empty" },
	{ "_t_submit", "送信する", "Send" },
	{ "_t_check", "入力内容を確認する", "Review" },  /* confirm: true */
	{ "_t_sending", "送信しています…", "Sending…" },
	{ "_t_sent", "送信しました。お問い合わせありがとうございます。",
	  "Thank you: your message has been sent." },
	{ "_t_number", "受付番号", "Your reference" },
	{ "_t_fix", "次の項目を確認して、もう一度送信してください。",
	  "Please check the following, then send again." },
	{ "_t_failed", "送信できませんでした。時間をおいてもう一度お試しください。",
	  "The message could not be sent. Please try again later." },
	{ "_t_carrier", "携帯電話のメールアドレスをお使いの方へ: "
	  "「{domain}」からのメールを受信できるよう設定してください。"
	  "設定がないと、返信が届かないことがあります。",
	  "You use a mobile carrier address: allow mail from "
	  "\"{domain}\" in your carrier's settings, or our reply may never "
	  "reach you." },
	{ "_t_review", "以下の内容で送信します。よろしければ「送信する」を"
	  "押してください。",
	  "Please check what you entered, then press Send." },
	{ "_t_back", "修正する", "Edit" },
	{ "_t_yes", "同意する", "Yes" },   /* a checked consent box, reviewed */
};

/* Every other name the template uses. */
static const char *const names[] = {
	"_action", "_lang", "_site", "_multipart", "_token_url", "_token_min",
	"_token_max", "_fetch", "_script", "_honeypot", "_fields", "_name",
	"_label", "_required", "_is_group", "_is_consent", "_is_labelled",
	"_is_select", "_is_multiline", "_is_file", "_is_input", "_options",
	"_option", "_input_type", "_input_mode", "_autocomplete", "_minlength",
	"_maxlength", "_accept", "_confirm",
};

#define FG_FIELD_VARS 24   /* variables of one field's scope */
#define FG_ROOT_VARS  (ARRAY_LEN(texts) + 16)

/* What to draw for a field.  Every field type has its case here, so a new
 * type does not build until it is given one (a file field: FK_FILE, with
 * its extensions as accept=".pdf,.docx" and the form multipart). */
enum fkind { FK_INPUT, FK_MULTILINE, FK_SELECT, FK_GROUP, FK_CONSENT,
    FK_FILE };

static enum fkind
field_kind(const struct field *fd)
{
	switch (fd->type) {
	case FT_TEXT:
	case FT_EMAIL:
	case FT_TEL:
	case FT_URL:
	case FT_NUMBER:
		return FK_INPUT;
	case FT_MULTILINE:
		return FK_MULTILINE;
	case FT_SELECT:
		return FK_SELECT;
	case FT_CHECKBOX:
		return fd->noptions ? FK_GROUP : FK_CONSENT;
	case FT_FILE:
		return FK_FILE;
	}
	return FK_INPUT;
}

/* The autofill hint (HTML "autofill detail tokens"): by type, then by the
 * usual field names; "" when none fits. */
static const char *
autocomplete(const struct field *fd)
{
	static const struct {
		const char *name, *token;
	} by_name[] = {
		{ "name", "name" }, { "fullname", "name" },
		{ "full_name", "name" }, { "company", "organization" },
		{ "organization", "organization" }, { "zip", "postal-code" },
		{ "postcode", "postal-code" }, { "postal_code", "postal-code" },
		{ "address", "street-address" },
	};
	size_t i;

	if (fd->type == FT_EMAIL)
		return "email";
	if (fd->type == FT_TEL)
		return "tel";
	if (fd->type == FT_URL)
		return "url";
	for (i = 0; fd->type == FT_TEXT && i < ARRAY_LEN(by_name); i++)
		if (strcmp(fd->name, by_name[i].name) == 0)
			return by_name[i].token;
	return "";
}

struct vlist {
	struct tmpl_var *v;
	size_t n, cap;
};

static void
vl_set(struct vlist *l, const char *name, const char *str)
{
	struct tmpl_var *v;

	if (l->n == l->cap)
		return;   /* the caps above hold every name; never reached */
	v = &l->v[l->n++];
	memset(v, 0, sizeof *v);
	v->name = name;
	v->str = str ? str : "";
	v->len = strlen(v->str);
}

static const char *
flag(int b)
{
	return b ? "1" : "";
}

/* One field's scope and its options' scopes; minlen and maxlen hold the
 * numbers the scope points to. */
struct fg_field {
	struct tmpl_var v[FG_FIELD_VARS];
	char minlen[24], maxlen[24];
	char accept[128];          /* ".pdf,.docx" */
	struct tmpl_var *optv;     /* one per option */
	struct tmpl_scope *opts;
};

/* A file field's extensions as the accept attribute (".pdf,.docx"), cut
 * at whole entries when they do not fit. */
static void
accept_list(const struct field *fd, char *out, size_t outlen)
{
	size_t i, o = 0;
	int w;

	out[0] = '\0';
	for (i = 0; i < fd->naccept; i++) {
		w = snprintf(out + o, outlen - o, "%s.%s", o ? "," : "",
		    fd->accept_ext[i]);
		if (w < 0 || (size_t)w >= outlen - o) {
			out[o] = '\0';
			return;
		}
		o += (size_t)w;
	}
}

/* Character bounds become minlength/maxlength (a number's are values,
 * checked by the server only).  Browsers count UTF-16 units, at least
 * the characters the server counts, so they never let through what it
 * refuses. */
static void
field_bounds(const struct field *fd, enum fkind k, struct fg_field *ff)
{
	int chars = (k == FK_INPUT && fd->type != FT_NUMBER) ||
	    k == FK_MULTILINE;

	if (chars && fd->has_min && fd->min >= 1)
		snprintf(ff->minlen, sizeof ff->minlen, "%.0f", fd->min);
	if (chars && fd->has_max)
		snprintf(ff->maxlen, sizeof ff->maxlen, "%.0f", fd->max);
}

static int
field_scope(const struct field *fd, struct fg_field *ff, struct tmpl_scope *sc)
{
	struct vlist l = { ff->v, 0, FG_FIELD_VARS };
	enum fkind k = field_kind(fd);
	size_t j;

	if (fd->noptions && ((ff->optv = calloc(fd->noptions,
	    sizeof *ff->optv)) == NULL || (ff->opts = calloc(fd->noptions,
	    sizeof *ff->opts)) == NULL))
		return -1;
	for (j = 0; j < fd->noptions; j++) {
		struct vlist ol = { &ff->optv[j], 0, 1 };
		vl_set(&ol, "_option", fd->options[j]);
		ff->opts[j].vars = &ff->optv[j];
		ff->opts[j].n = 1;
	}
	field_bounds(fd, k, ff);
	vl_set(&l, "_name", fd->name);
	vl_set(&l, "_label", fd->label);
	vl_set(&l, "_required", flag(fd->required));
	vl_set(&l, "_is_group", flag(k == FK_GROUP));
	vl_set(&l, "_is_consent", flag(k == FK_CONSENT));
	vl_set(&l, "_is_labelled", flag(k != FK_GROUP && k != FK_CONSENT));
	vl_set(&l, "_is_select", flag(k == FK_SELECT));
	vl_set(&l, "_is_multiline", flag(k == FK_MULTILINE));
	vl_set(&l, "_is_file", flag(k == FK_FILE));
	vl_set(&l, "_is_input", flag(k == FK_INPUT));
	vl_set(&l, "_input_type", pages_input_type(fd->type));
	vl_set(&l, "_input_mode", pages_input_mode(fd->type));
	vl_set(&l, "_autocomplete", autocomplete(fd));
	vl_set(&l, "_minlength", ff->minlen);
	vl_set(&l, "_maxlength", ff->maxlen);
	accept_list(fd, ff->accept, sizeof ff->accept);
	vl_set(&l, "_accept", ff->accept);
	vl_set(&l, "_options", "");
	l.v[l.n - 1].is_list = 1;
	l.v[l.n - 1].items = ff->opts;
	l.v[l.n - 1].nitems = fd->noptions;
	sc->vars = l.v;
	sc->n = l.n;
	return 0;
}

/* "/path" or "http(s)://host/path": what tmpl lets through a URL
 * attribute, minus what would break the token URL built from it. */
static int
action_ok(const char *a)
{
	const char *host = NULL;

	if (strncmp(a, "https://", 8) == 0)
		host = a + 8;
	else if (strncmp(a, "http://", 7) == 0)
		host = a + 7;
	else if (a[0] != '/' || a[1] == '/' || a[1] == '\\')
		return 0;
	if ((host && (*host == '\0' || *host == '/')) ||
	    strlen(a) > LIM_FORM_ACTION || a[strlen(a) - 1] == '/')
		return 0;
	for (; *a; a++)
		if ((unsigned char)*a <= ' ' || *a == 0x7f ||
		    strchr("\"'<>?#\\`", *a))
			return 0;
	return 1;
}

/* The root scope's values that are not a field's. */
struct fg_root {
	struct tmpl_var v[FG_ROOT_VARS];
	char action[LIM_FORM_ACTION + 1], token_url[LIM_FORM_ACTION + 8];
	char token_min[16], token_max[16];
};

static void
root_scope(const struct site *s, const struct formgen_opts *o,
    struct fg_root *r, int multipart, struct tmpl_scope *fields,
    struct tmpl_scope *root)
{
	struct vlist l = { r->v, 0, FG_ROOT_VARS };
	size_t i;

	if (s->token_required) {
		snprintf(r->token_url, sizeof r->token_url, "%s/token",
		    r->action);
		snprintf(r->token_min, sizeof r->token_min, "%u",
		    s->token_min_age);
		snprintf(r->token_max, sizeof r->token_max, "%u",
		    s->token_max_age);
	}
	for (i = 0; i < ARRAY_LEN(texts); i++)
		vl_set(&l, texts[i].name, o->lang == LANG_JA ? texts[i].ja :
		    texts[i].en);
	vl_set(&l, "_action", r->action);
	vl_set(&l, "_lang", o->lang == LANG_JA ? "ja" : "en");
	vl_set(&l, "_site", s->name);
	vl_set(&l, "_multipart", flag(multipart));
	vl_set(&l, "_token_url", r->token_url);
	vl_set(&l, "_token_min", r->token_min);
	vl_set(&l, "_token_max", r->token_max);
	vl_set(&l, "_fetch", flag(o->fetch));
	vl_set(&l, "_script", flag(o->fetch || s->token_required));
	vl_set(&l, "_honeypot", s->honeypot);
	vl_set(&l, "_confirm", flag(s->confirm));
	vl_set(&l, "_fields", "");
	l.v[l.n - 1].is_list = 1;
	l.v[l.n - 1].items = fields;
	l.v[l.n - 1].nitems = s->nfields;
	root->vars = l.v;
	root->n = l.n;
}

static struct tmpl *
compile(char *err, size_t errlen)
{
	const char *known[ARRAY_LEN(texts) + ARRAY_LEN(names) + 1];
	char cerr[256];
	struct tmpl *t;
	size_t i, n = 0;

	for (i = 0; i < ARRAY_LEN(texts); i++)
		known[n++] = texts[i].name;
	for (i = 0; i < ARRAY_LEN(names); i++)
		known[n++] = names[i];
	known[n] = NULL;
	t = tmpl_compile(form_tmpl, sizeof form_tmpl - 1, TMPL_HTML, known,
	    cerr, sizeof cerr);
	if (t == NULL)
		snprintf(err, errlen, "form template: %s", cerr);
	return t;
}

int
formgen_render(const struct site *s, const struct formgen_opts *o,
    struct buf *out, char *err, size_t errlen)
{
	struct fg_field *ff = NULL;
	struct tmpl_scope *fs = NULL, root;
	struct fg_root *r = NULL;
	struct tmpl *t = NULL;
	size_t i;
	int rc = -1, multipart = 0;

	snprintf(err, errlen, "out of memory");
	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (ff = calloc(s->nfields + 1, sizeof *ff)) == NULL ||
	    (fs = calloc(s->nfields + 1, sizeof *fs)) == NULL)
		goto out;
	if (o->action && !action_ok(o->action)) {
		snprintf(err, errlen, "--action must be a path such as "
		    "/formpost/%s or an http(s):// URL, without a query, "
		    "fragment, quotes or trailing slash", s->name);
		goto out;
	}
	snprintf(r->action, sizeof r->action, "%s%s", o->action ? "" :
	    "/formpost/", o->action ? o->action : s->name);
	for (i = 0; i < s->nfields; i++) {
		multipart |= field_kind(&s->fields[i]) == FK_FILE;
		if (field_scope(&s->fields[i], &ff[i], &fs[i]) == -1)
			goto out;
	}
	root_scope(s, o, r, multipart, fs, &root);
	if ((t = compile(err, errlen)) == NULL)
		goto out;
	if (tmpl_render(t, &root, out) == -1)
		snprintf(err, errlen, "out of memory");
	else
		rc = 0;
out:
	tmpl_free(t);
	for (i = 0; ff && i < s->nfields; i++) {
		free(ff[i].optv);
		free(ff[i].opts);
	}
	free(ff);
	free(fs);
	free(r);
	return rc;
}

int
formgen_run(const struct config *c, const char *site, const char *lang,
    int fetch, const char *action, FILE *out, FILE *errf)
{
	const struct site *s = config_site(c, site);
	struct formgen_opts o = { LANG_JA, fetch, action };
	char err[512];
	struct buf b;
	size_t i;
	int rc = 1;

	if (s == NULL) {
		fprintf(errf, "formpost form: no site named \"%s\" in %s; "
		    "configured sites:", site, c->path);
		for (i = 0; i < c->nsites; i++)
			fprintf(errf, "%s %s", i ? "," : "", c->sites[i].name);
		fprintf(errf, "%s\n", c->nsites ? "" : " none");
		return 1;
	}
	o.lang = lang == NULL ? s->lang : strcmp(lang, "en") == 0 ? LANG_EN :
	    LANG_JA;
	buf_init(&b);
	if (formgen_render(s, &o, &b, err, sizeof err) == -1)
		fprintf(errf, "formpost form: %s\n", err);
	else if (fwrite(b.data, 1, b.len, out) != b.len || fflush(out) != 0)
		fprintf(errf, "formpost form: cannot write the form\n");
	else
		rc = 0;
	buf_free(&b);
	return rc;
}
