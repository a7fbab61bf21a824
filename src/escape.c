/* escape.c — see escape.h. */
#include "config.h"
#include "escape.h"

#include <stdio.h>
#include <string.h>

/* Code points that change how text around them is displayed. */
static bool is_format_cp(uint32_t cp)
{
	return (cp >= 0x202A && cp <= 0x202E) || /* LRE RLE PDF LRO RLO */
	       (cp >= 0x2066 && cp <= 0x2069) || /* LRI RLI FSI PDI */
	       cp == 0x200E || cp == 0x200F || cp == 0x061C || /* LRM RLM ALM */
	       (cp >= 0x80 && cp <= 0x9F) ||     /* C1 controls, incl. CSI 0x9B */
	       cp == 0xFEFF || cp == 0x2028 || cp == 0x2029;
}

void escape_text(struct buf *out, const char *str, size_t n, bool keep_newlines)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if (c >= 0x20 && c != 0x7F) {
				size_t j = i;
				while (j < n && s[j] >= 0x20 && s[j] < 0x7F)
					j++;
				buf_add(out, s + i, j - i);
				i = j;
				continue;
			}
			if (keep_newlines && c == '\n')
				buf_addc(out, '\n');
			else if (keep_newlines && c == '\t')
				buf_adds(out, "        ");
			else if (c == '\n')
				buf_adds(out, "\\n");
			else if (c == '\t')
				buf_adds(out, "\\t");
			else if (c == '\r')
				buf_adds(out, "\\r");
			else if (c == 0x1B)
				buf_adds(out, "\\e");
			else
				buf_printf(out, "\\x%02x", c);
			i++;
			continue;
		}
		size_t len;
		uint32_t cp;
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07;
		} else {
			buf_printf(out, "\\x%02x", c);
			i++;
			continue;
		}
		bool ok = i + len <= n;
		for (size_t k = 1; ok && k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				ok = false;
			else
				cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (ok && ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
			   (cp >= 0xD800 && cp <= 0xDFFF)))
			ok = false;
		if (!ok) {
			buf_printf(out, "\\x%02x", c);
			i++;
			continue;
		}
		if (is_format_cp(cp))
			buf_printf(out, "<U+%04X>", (unsigned)cp);
		else
			buf_add(out, s + i, len);
		i += len;
	}
	if (!out->data)
		buf_add(out, "", 0);
}
