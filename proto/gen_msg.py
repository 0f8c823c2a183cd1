#!/usr/bin/env python3
"""Writes the message code from proto/msg.schema (its header says what the schema holds).

    gen_msg.py msg.schema OUTDIR

OUTDIR/msg_gen.h    structs and prototypes (included by proto/msg.h)
OUTDIR/msg_gen.c    encoders, decoders, fini functions (compiled into geokv_proto)
OUTDIR/msg_wire.inc for tests: per message a sample value and a decode-then-encode trip,
                    listed in msg_wire[] (the wire test and the fuzz target include it)
"""
import re
import sys

SCALARS = {  # type: (C type, pack function, unpack function)
    "u32": ("uint32_t", "pk_uint", "upk_u32"),
    "u64": ("uint64_t", "pk_uint", "upk_uint"),
    "i64": ("int64_t", "pk_int", "upk_int"),
    "decree": ("decree_t", "pk_int", "upk_int"),
    "ballot": ("ballot_t", "pk_int", "upk_int"),
    "bool": ("bool", "pk_bool", "upk_bool"),
}
SIZED = {"str": "upk_str", "text": "upk_text", "bin": "upk_bin"}


class Field:
    def __init__(self, kind, param, name, attrs, optional, comment):
        self.kind, self.param, self.name = kind, param, name
        self.attrs, self.optional, self.comment = attrs, optional, comment

    def attr(self, key):
        return self.attrs.get(key)

    def args(self, key):
        return [a.strip() for a in self.attrs[key].split(",")]


class Item:
    def __init__(self, is_msg, name, exported, doc):
        self.is_msg, self.name, self.exported, self.doc = is_msg, name, exported, doc
        self.fields = []

    @property
    def ctype(self):
        return "msg_" + self.name if self.is_msg else self.name


def fail(lineno, why):
    sys.exit("msg.schema:%d: %s" % (lineno, why))


def parse_attrs(text, lineno):
    attrs = {}
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        m = re.match(r"(\w+)\(", text[i:])
        if not m:
            fail(lineno, "bad attribute near '%s'" % text[i:])
        depth, j = 1, i + m.end()
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        if depth:
            fail(lineno, "unbalanced parentheses")
        attrs[m.group(1)] = text[i + m.end() : j - 1]
        i = j
    return attrs


def parse(path):
    items, by_name, doc, cur, optional = [], {}, [], None, False
    for lineno, raw in enumerate(open(path), 1):
        line = raw.rstrip("\n")
        if not line.strip():
            doc = []
            continue
        if line.startswith("#"):
            doc.append(line[1:].strip())
            continue
        body, _, comment = line.partition(" #")
        words = body.split()
        if not line[0].isspace():
            if words[0] not in ("record", "message") or len(words) not in (2, 3):
                fail(lineno, "expected 'record NAME [message]' or 'message NAME'")
            cur = Item(words[0] == "message", words[1], words[0] == "message", doc)
            if len(words) == 3:
                if words[2] != "message" or cur.is_msg:
                    fail(lineno, "only a record can be 'message'")
                cur.exported = True
            items.append(cur)
            by_name[cur.name] = cur
            doc, optional = [], False
            continue
        if cur is None:
            fail(lineno, "field outside a record")
        if words == ["|"]:
            optional = True
            continue
        m = re.match(r"\s+(\w+)(?:\(([^)]*)\))?\s+(\w+)\s*(.*)$", body)
        if not m:
            fail(lineno, "expected 'TYPE NAME [ATTR...]'")
        kind, param, name, rest = m.groups()
        if kind not in SCALARS and kind not in SIZED and kind != "bytes" and kind not in by_name:
            fail(lineno, "unknown type " + kind)
        if (kind in SIZED) != (param is not None):
            fail(lineno, "only str, text and bin take a size")
        f = Field(kind, param, name, parse_attrs(rest, lineno), optional, comment.strip())
        if f.attr("present") and not optional:
            fail(lineno, "present() is for fields after '|'")
        f.record = by_name.get(kind)
        cur.fields.append(f)
        doc = []
    return items


def sub_fields(f):
    """The record fields f carries on the wire."""
    if f.attr("fields") is None:
        return f.record.fields
    names = f.args("fields")
    return [g for n in names for g in f.record.fields if g.name == n]


def suffix(f):
    """Name suffix of the pack/unpack pair of a record field (a subset gets its own)."""
    return "" if f.attr("fields") is None else "_" + "_".join(f.args("fields"))


def needs_zone(item):
    return any(f.kind == "bytes" or (f.record and needs_zone(f.record)) for f in item.fields)


def needs_fini(item):
    return any(f.attr("array") or (f.record and needs_fini(f.record)) for f in item.fields)


def comment_block(lines, indent=""):
    if not lines:
        return []
    if len(lines) == 1:
        return [indent + "/* " + lines[0] + " */"]
    return [indent + "/*"] + [indent + " * " + l if l else indent + " *" for l in lines] + [indent + " */"]


# ---- header ----


def c_decl(f, name, pointer=False):
    if f.kind in SCALARS:
        t = SCALARS[f.kind][0]
    elif f.kind == "bytes":
        t = "struct bytes"
    elif f.record:
        t = "struct " + f.record.ctype
    elif f.kind == "bin":
        return "uint8_t %s[%s]" % (name, f.param)
    else:
        return "char %s[%s]" % (name, f.param)
    return "%s %s%s" % (t, "*" if pointer else "", name)


def struct_lines(item):
    out = comment_block(item.doc) + ["struct %s {" % item.ctype]
    names = {f.name for f in item.fields}
    for f in item.fields:
        tail = "  /* %s */" % f.comment if f.comment else ""
        if f.attr("present"):
            out.append("    bool %s; /* the sender sent %s */" % (f.attr("present"), f.name))
        if f.attr("array"):
            count = f.args("array")[0]
            if count not in names:
                out.append("    uint32_t %s;" % count)
            if f.kind in SIZED:
                sys.exit("msg.schema: %s: arrays of sized types must be inline" % f.name)
            out.append("    %s;%s" % (c_decl(f, f.name, pointer=True), tail))
        elif f.attr("inline"):
            count, cap = f.args("inline")
            out.append("    uint32_t %s;" % count)
            out.append("    %s;%s" % (c_decl(f, "%s[%s]" % (f.name, cap)), tail))
        else:
            out.append("    %s;%s" % (c_decl(f, f.name), tail))
    return out + ["};"]


def prototypes(item):
    t = "struct " + item.ctype
    zone = ",\n        struct unpacked **zonep" if needs_zone(item) else ""
    out = [
        "void msg_%s_encode(struct buf *out, const %s *m);" % (item.name, t),
        "MUST_CHECK int msg_%s_decode(const uint8_t *b, size_t n, %s *m%s);" % (item.name, t, zone),
    ]
    if needs_fini(item):
        out.append("void msg_%s_fini(%s *m);" % (item.name, t))
    return out


def header(items):
    out = ["/* Generated by proto/gen_msg.py from proto/msg.schema: edit those, not this. */",
           "#pragma once", ""]
    for item in items:
        out += struct_lines(item)
        if item.exported:
            out += prototypes(item)
        out.append("")
    return "\n".join(out)


# ---- encoders, decoders, fini ----


def pack_stmt(f, lv, prefix=""):
    if f.kind in SCALARS:
        return "%s(p, %s);" % (SCALARS[f.kind][1], lv)
    if f.kind == "bytes":
        return "pk_bin(p, %s.p, %s.len);" % (lv, lv)
    if f.kind == "bin":
        return "pk_bin(p, %s, sizeof(%s));" % (lv, lv)
    if f.kind in SIZED:
        return "pk_str(p, %s);" % lv
    return "%s%s_pack%s(p, &%s);" % (prefix, f.record.ctype, suffix(f), lv)


def unpack_call(f, src, lv):
    if f.kind in SCALARS:
        return "%s(%s, &%s)" % (SCALARS[f.kind][2], src, lv)
    if f.kind == "bytes":
        return "upk_bytes(%s, &%s.p, &%s.len)" % (src, lv, lv)
    if f.kind in SIZED:
        return "%s(%s, %s, sizeof(%s))" % (SIZED[f.kind], src, lv, lv)
    return "%s_unpack%s(%s, &%s)" % (f.record.ctype, suffix(f), src, lv)


def check_stmts(f, lv, ind):
    if not f.attr("check"):
        return []
    expr = re.sub(r"\bv\b", lv, f.attr("check"))
    return [ind + "if (rc == 0 && !(%s))" % expr, ind + "    rc = ERR_INVALID_DATA;"]


def pack_fn(item, fields, name, prefix=""):
    out = ["static void", "%s(struct pk *p, const struct %s *m)" % (name, item.ctype), "{",
           "    pk_array(p, %d);" % len(fields)]
    for f in fields:
        lv = "m->" + f.name
        if f.attr("array") or f.attr("inline"):
            count = "m->" + (f.args("array") if f.attr("array") else f.args("inline"))[0]
            out += ["    pk_array(p, %s);" % count,
                    "    for (uint32_t i = 0; i < %s; i++)" % count,
                    "        " + pack_stmt(f, lv + "[i]", prefix)]
        else:
            out.append("    " + pack_stmt(f, lv, prefix))
    return out + ["}", ""]


def unpack_field(f, i, names):
    src, lv, ind = "f[%d]" % i, "m->" + f.name, "    "
    if f.attr("array") or f.attr("inline"):
        heap = bool(f.attr("array"))
        count, limit = f.args("array") if heap else f.args("inline")
        out = []
        if heap and count in names:  # the length is a field too: they must agree
            out += [ind + "if (rc == 0) {", ind + "    uint32_t n;",
                    ind + "    rc = upk_array_max(%s, %s, &n);" % (src, limit),
                    ind + "    if (rc == 0 && n != m->%s)" % count,
                    ind + "        rc = ERR_INVALID_DATA;", ind + "}"]
        else:
            out += [ind + "if (rc == 0)", ind + "    rc = upk_array_max(%s, %s, &m->%s);" % (src, limit, count)]
        if heap:
            out += [ind + "if (rc == 0)", ind + "    %s = xcalloc(m->%s, sizeof(*%s));" % (lv, count, lv)]
        out += [ind + "for (uint32_t i = 0; rc == 0 && i < m->%s; i++) {" % count,
                ind + "    struct upk e;",
                ind + "    rc = upk_at(%s, i, &e);" % src,
                ind + "    if (rc == 0)",
                ind + "        rc = %s;" % unpack_call(f, "e", lv + "[i]")]
        out += check_stmts(f, lv + "[i]", ind + "    ") + [ind + "}"]
    else:
        out = [ind + "if (rc == 0)", ind + "    rc = %s;" % unpack_call(f, src, lv)] + check_stmts(f, lv, ind)
    if f.optional:  # appended later: an older sender leaves it out
        flag = ["        m->%s = true;" % f.attr("present")] if f.attr("present") else []
        out = ["    if (rc == 0 && %s.obj != NULL) {" % src] + flag + ["    " + l for l in out] + ["    }"]
    return out


def unpack_fn(item, fields, name):
    required = sum(1 for f in fields if not f.optional)
    names = {f.name for f in fields}
    out = ["static int", "%s(struct upk v, struct %s *m)" % (name, item.ctype), "{",
           "    struct upk f[%d];" % len(fields),
           "    int rc = upk_fields(v, f, %d, %d);" % (required, len(fields))]
    for i, f in enumerate(fields):
        out += unpack_field(f, i, names)
    return out + ["    return rc;", "}", ""]


def fini_fn(item, name, static):
    out = (["static void"] if static else ["void"]) + ["%s(struct %s *m)" % (name, item.ctype), "{"]
    names = {f.name for f in item.fields}
    for f in item.fields:
        lv = "m->" + f.name
        if f.attr("array"):
            count = f.args("array")[0]
            if f.record and needs_fini(f.record):
                out += ["    for (uint32_t i = 0; %s != NULL && i < m->%s; i++)" % (lv, count),
                        "        %s_fini(&%s[i]);" % (f.record.ctype, lv)]
            out += ["    xfree(%s);" % lv, "    %s = NULL;" % lv]
            if count not in names:
                out.append("    m->%s = 0;" % count)
        elif f.record and needs_fini(f.record):
            sys.exit("msg.schema: %s: records with arrays only inside heap arrays" % f.name)
    return out + ["}", ""]


def decode_fn(item):
    t, zone, fini = item.ctype, needs_zone(item), needs_fini(item)
    out = ["int"]
    if zone:
        out += ["msg_%s_decode(const uint8_t *b, size_t n, struct %s *m, struct unpacked **zonep)" % (item.name, t),
                "{", "    int rc;", ""]
    else:
        out += ["msg_%s_decode(const uint8_t *b, size_t n, struct %s *m)" % (item.name, t),
                "{", "    struct unpacked *z = NULL, **zonep = &z;", "    int rc;", ""]
    out += ["    memset(m, 0, sizeof(*m));",
            "    rc = unpacked_parse(b, n, zonep);",
            "    if (rc == 0)",
            "        rc = %s_unpack(unpacked_root(*zonep), m);" % t]
    out += ["    if (rc != 0) { /* nothing of a failed decode is kept */"]
    if fini:
        out += ["        %s(m);" % ("msg_%s_fini" % item.name if item.exported else t + "_fini")]
    out += ["        memset(m, 0, sizeof(*m));", "    }"]
    if zone:
        out += ["    if (rc != 0) {", "        unpacked_free(*zonep);", "        *zonep = NULL;", "    }"]
    else:
        out += ["    unpacked_free(z);"]
    return out + ["    return rc;", "}", ""]


def source(items):
    out = ["/* Generated by proto/gen_msg.py from proto/msg.schema: edit those, not this. */",
           '#include "proto/msg.h"', "", "#include <string.h>", "",
           '#include "common/xmalloc.h"', '#include "proto/pack.h"', ""]
    subsets = {}  # (record, fields) -> the subset's field list, for the records used partially
    for item in items:
        for f in item.fields:
            if f.record and f.attr("fields"):
                subsets[(f.record.name, suffix(f))] = sub_fields(f)
    for item in items:
        out += pack_fn(item, item.fields, item.ctype + "_pack")
        out += unpack_fn(item, item.fields, item.ctype + "_unpack")
        for (rec, suf), fields in sorted(subsets.items()):
            if rec == item.name:
                out += pack_fn(item, fields, item.ctype + "_pack" + suf)
                out += unpack_fn(item, fields, item.ctype + "_unpack" + suf)
        if needs_fini(item):
            if item.exported:
                out += fini_fn(item, "msg_%s_fini" % item.name, static=False)
            else:
                out += fini_fn(item, item.ctype + "_fini", static=True)
        if item.exported:
            if needs_fini(item) and not item.is_msg:
                sys.exit("msg.schema: %s: a record sent alone has no arrays" % item.name)
            out += ["void", "msg_%s_encode(struct buf *out, const struct %s *m)" % (item.name, item.ctype),
                    "{", "    struct pk p = {out};", "    %s_pack(&p, m);" % item.ctype, "}", ""]
            out += decode_fn(item)
    return "\n".join(out)


# ---- test support: a sample of every message, its trip, and how an older sender sends it ----


class Sampler:
    """Statements filling a sample message; old: leave out the fields added later. Values
    come from each field's path, so moving a field changes the bytes."""

    def __init__(self, old):
        self.old, self.decls, self.stmts, self.tmp = old, [], [], 0

    def value(self, f, path):
        h = 0
        for ch in path:
            h = (h * 131 + ord(ch)) % 1000003
        if f.attr("sample"):
            return f.attr("sample")
        if f.kind == "u32":  # fixint, uint8, uint16 and uint32 encodings
            return "%dU" % [h % 128, 128 + h % 128, 256 + h % 65000, 70000 + h][h % 4]
        if f.kind == "u64":
            return "UINT64_C(%d) << %d" % (h, h % 31)
        if f.kind in ("i64", "decree", "ballot"):
            return "INT64_C(%d)" % ([h, -h, h % 100, -(h % 30)][h % 4])
        if f.kind == "bool":
            return "true" if h % 2 else "false"
        if f.kind == "bytes":
            return 'bytes_of("%s", %d)' % (path, len(path))
        return None

    def fill(self, fields, lv, path):
        counts = [g.args("array")[0] for g in fields if g.attr("array")]
        for f in fields:
            if f.optional and self.old:
                continue
            p = path + f.name
            if f.attr("array") or f.attr("inline"):
                count = (f.args("array") if f.attr("array") else f.args("inline"))[0]
                if f.attr("array"):
                    self.tmp += 1
                    arr = "a%d" % self.tmp
                    self.decls.append("%s = {0};" % c_decl(f, "%s[2]" % arr))
                    self.stmts.append("%s.%s = %s;" % (lv, f.name, arr))
                    elems = [arr + "[0]", arr + "[1]"]
                else:
                    elems = ["%s.%s[0]" % (lv, f.name), "%s.%s[1]" % (lv, f.name)]
                self.stmts.append("%s.%s = 2;" % (lv, count))
                if f.attr("present"):
                    self.stmts.append("%s.%s = true;" % (lv, f.attr("present")))
                for k, e in enumerate(elems):
                    self.one(f, e, "%s[%d]" % (p, k))
            elif f.name not in counts:
                self.one(f, "%s.%s" % (lv, f.name), p)

    def one(self, f, lv, path):
        if f.record:
            self.fill(sub_fields(f), lv, path + ".")
            return
        v = self.value(f, path)
        if v is not None:
            self.stmts.append("%s = %s;" % (lv, v))
        elif f.kind == "bin":
            self.stmts.append("memset(%s, %d, sizeof(%s));" % (lv, len(path), lv))
        else:
            self.stmts.append('snprintf(%s, sizeof(%s), "%%s", "%s");' % (lv, lv, path))


def has_optional(fields):
    return any(f.optional or (f.record and has_optional(sub_fields(f))) for f in fields)


def old_packers(items):
    """Packers of the records as a sender from before any '|' field sends them."""
    out, done = [], set()

    def visit(item, fields, suf):
        for f in fields:
            if f.record and not f.optional:  # an old sender sends no optional field
                visit(f.record, sub_fields(f), suffix(f))
        if (item.name, suf) not in done:
            done.add((item.name, suf))
            out.extend(pack_fn(item, [f for f in fields if not f.optional],
                               "old_%s_pack%s" % (item.ctype, suf), prefix="old_"))

    for item in items:
        if item.exported and has_optional(item.fields):
            visit(item, item.fields, "")
    return out


def sample_fn(item, name, old, encode):
    s = Sampler(old)
    s.fill(item.fields, "m", "")
    return (["static void", "%s(struct buf *out)" % name, "{", "    struct %s m = {0};" % item.ctype]
            + ["    " + d for d in s.decls] + ["    " + st for st in s.stmts] + ["    " + encode, "}", ""])


def wire_inc(items):
    out = ["/* Generated by proto/gen_msg.py from proto/msg.schema: edit those, not this. */",
           "/* For tests: include after <stdio.h>, <stdlib.h>, <string.h>, proto/msg.h, proto/pack.h. */", ""]
    out += old_packers(items)
    rows = []
    for item in items:
        if not item.exported:
            continue
        t, zone, fini, name = item.ctype, needs_zone(item), needs_fini(item), item.name
        out += sample_fn(item, "sample_" + name, False, "msg_%s_encode(out, &m);" % name)
        old = "NULL, NULL"
        if has_optional(item.fields):
            out += sample_fn(item, "sample_old_%s" % name, True, "msg_%s_encode(out, &m);" % name)
            out += sample_fn(item, "old_%s" % name, True,
                             "old_%s_pack(&(struct pk){out}, &m);" % t)
            old = "old_%s, sample_old_%s" % (name, name)
        out += ["static int", "trip_%s(const uint8_t *b, size_t n, struct buf *out)" % name, "{",
                "    struct %s m;" % t]
        if zone:
            out += ["    struct unpacked *z = NULL;",
                    "    int rc = msg_%s_decode(b, n, &m, &z);" % name]
        else:
            out += ["    int rc = msg_%s_decode(b, n, &m);" % name]
        if zone:  # a failed decode hands back no zone
            out += ["    if (rc != 0 && z != NULL)", "        abort();"]
        out += ["    if (rc != 0)", "        return rc;", "    msg_%s_encode(out, &m);" % name]
        if fini:
            out.append("    msg_%s_fini(&m);" % name)
        if zone:
            out.append("    unpacked_free(z);")
        out += ["    return 0;", "}", ""]
        required = sum(1 for f in item.fields if not f.optional)
        rows.append('    {"%s", %d, sample_%s, trip_%s, %s},' % (name, required, name, name, old))
    out += ["/*",
            " * Every message: the fields a sender must send (the others were appended later); sample",
            " * encodes a sample; trip decodes b and encodes the result. For a",
            " * message with fields appended later, old encodes the sample as a sender from before them",
            " * does, and sample_old what decoding that must give (those fields zero).",
            " */",
            "static const struct {", "    const char *name;", "    unsigned required;", "    void (*sample)(struct buf *out);",
            "    int (*trip)(const uint8_t *b, size_t n, struct buf *out);",
            "    void (*old)(struct buf *out);", "    void (*sample_old)(struct buf *out);",
            "} msg_wire[] = {"]
    return "\n".join(out + rows + ["};", ""])


def main():
    items = parse(sys.argv[1])
    outdir = sys.argv[2]
    for name, text in (("msg_gen.h", header(items)), ("msg_gen.c", source(items)),
                       ("msg_wire.inc", wire_inc(items))):
        with open("%s/%s" % (outdir, name), "w") as fp:
            fp.write(text)


if __name__ == "__main__":
    main()
