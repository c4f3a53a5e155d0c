// SPDX-License-Identifier: MIT
/*
 * SVG flame graphs rendered in C: a standalone file with a small inline
 * script (written for kiln) for click zoom, regex search with "Matched:
 * X%", reset, and zoom/search kept in the URL, as flamegraph.pl users
 * expect. The process name is the first level above "all", like folded.
 *
 * The differential variant builds one tree from two profiles: widths are
 * the new profile's counts, colours the change in each frame's share of
 * all samples (red grew, blue shrank: distinguishable with red-green
 * colour blindness), intensity linear in |change| relative to the largest.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/escape.h"
#include "profile/format.h"
#include "lib/idxset.h"
#include "profile/calltree.h"

#define FRAME_H 16
#define FONT_W 6.6 /* average glyph width of 11px Verdana, for clipping */
#define PAD 10
#define HEADER 50
#define FOOTER 24

/* What the SVG draws: the shared call tree plus display names and x. */
struct tree {
	struct calltree ct;
	char **label; /* per name id: the folded name (name plus suffix) */
	double *x;    /* per node: left edge, in samples of side 1 */
};

static void tree__init(struct tree *t)
{
	struct calltree_opts o = {.root = "all",
				  .unknown_process = "[unknown]"};

	memset(t, 0, sizeof(*t));
	calltree__init(&t->ct, &o);
}

static void tree__release(struct tree *t)
{
	for (size_t i = 0; t->label && i < t->ct.nr_names; i++)
		free(t->label[i]);
	free(t->label);
	free(t->x);
	calltree__release(&t->ct);
}

/* Adds every sample of 'p' into side 'slot', the process name first. */
static int tree__add(struct tree *t, const struct profile *p, int slot)
{
	struct calltree_add_opts ao = {.with_process = true};

	return calltree__add(&t->ct, p, slot, &ao);
}

static int label_cmp(const void *a, const void *b, void *ctx)
{
	const struct tree *t = ctx;
	uint32_t x = t->ct.nodes[*(const uint32_t *)a].name,
		 y = t->ct.nodes[*(const uint32_t *)b].name;

	return strcmp(t->label[x], t->label[y]);
}

/* Folded names for drawing, children linked in name order
 * (flamegraph.pl's "alphabetical" x axis) and x offsets from side 1. */
static int tree__layout(struct tree *t)
{
	static const char *const suffix[FRAME_KIND_MAX] = {
	    [FRAME_KERNEL] = "_[k]",
	    [FRAME_INLINED] = "_[i]",
	    [FRAME_JIT] = "_[j]",
	};
	const struct calltree *ct = &t->ct;
	uint32_t *kids = NULL;
	int err = -ENOMEM;

	t->label = calloc(ct->nr_names + 1, sizeof(*t->label));
	t->x = calloc(ct->nr_nodes + 1, sizeof(*t->x));
	kids = malloc((ct->nr_nodes + 1) * sizeof(*kids));
	if (!t->label || !t->x || !kids)
		goto out;
	for (size_t i = 0; i < ct->nr_names; i++) {
		const struct calltree_name *n = &ct->names[i];
		const char *sfx = n->kind < FRAME_KIND_MAX && suffix[n->kind]
				      ? suffix[n->kind]
				      : "";

		if (asprintf(&t->label[i], "%s%s", n->name, sfx) < 0) {
			t->label[i] = NULL;
			goto out;
		}
	}
	/* Parents have smaller ids than their children, so one pass in id
	 * order places every parent before its children. */
	for (size_t i = 0; i < ct->nr_nodes; i++) {
		size_t nk =
		    calltree__children(ct, (uint32_t)i, kids, label_cmp, t);
		double x = t->x[i];

		for (size_t j = 0; j < nk; j++) {
			t->x[kids[j]] = x;
			x += (double)ct->nodes[kids[j]].total[1];
		}
	}
	err = 0;
out:
	free(kids);
	return err;
}

static void color_of(const struct tree *t, const struct calltree_node *n,
		     char *buf, size_t size)
{
	const char *label = t->label[n->name];
	uint32_t h = hash__bytes(label, strlen(label), 0);
	double v1 = (h & 0xff) / 255.0, v2 = ((h >> 8) & 0xff) / 255.0;

	switch (t->ct.names[n->name].kind) {
	case FRAME_KERNEL: /* orange */
		snprintf(buf, size, "rgb(%d,%d,%d)", 220 + (int)(35 * v1),
			 120 + (int)(60 * v2), 30);
		break;
	case FRAME_INLINED: /* aqua */
		snprintf(buf, size, "rgb(%d,%d,%d)", 50 + (int)(60 * v1),
			 190 + (int)(55 * v2), 190 + (int)(55 * v2));
		break;
	case FRAME_JIT: /* green */
		snprintf(buf, size, "rgb(%d,%d,%d)", 50 + (int)(60 * v1),
			 180 + (int)(60 * v2), 50);
		break;
	case CALLTREE_KIND_PROCESS:
	case FRAME_SPECIAL: /* grey: process names and placeholders */
		snprintf(buf, size, "rgb(%d,%d,%d)", 180 + (int)(30 * v1),
			 180 + (int)(30 * v1), 190 + (int)(30 * v1));
		break;
	default: /* flamegraph.pl's "hot" */
		snprintf(buf, size, "rgb(%d,%d,%d)", 205 + (int)(50 * v1),
			 (int)(230 * v2), (int)(55 * v1));
	}
}

static const char svg_script[] =
    "var W,H,PAD=10,FH=16,ICICLE,zoomed=null,fr=[],det,mat,sbtn,term=null;\n"
    "function init(){var "
    "s=document.documentElement;W=+s.getAttribute('width');\n"
    " ICICLE=s.getAttribute('data-icicle')=='1';det=document.getElementById('"
    "details');\n"
    " mat=document.getElementById('matched');sbtn=document.getElementById('"
    "search');\n"
    " var g=document.getElementsByClassName('f');for(var "
    "i=0;i<g.length;i++){var e=g[i];\n"
    "  "
    "fr.push({e:e,x:+e.getAttribute('data-x'),w:+e.getAttribute('data-w'),d:+e."
    "getAttribute('data-d'),\n"
    "   "
    "n:e.getAttribute('data-n'),r:e.querySelector('rect'),t:e.querySelector('"
    "text'),c:e.querySelector('rect').getAttribute('fill')});\n"
    "  e.onclick=function(ev){zoom(this);};\n"
    "  "
    "e.onmouseover=function(){det.textContent=this.querySelector('title')."
    "textContent;};\n"
    "  e.onmouseout=function(){det.textContent=' ';};}\n"
    " document.getElementById('unzoom').onclick=function(){zoom(null);};\n"
    " sbtn.onclick=function(){if(term!==null){search(null);}else{askSearch();}}"
    ";\n"
    " window.addEventListener('keydown',function(e){if((e.ctrlKey||e.metaKey)&&"
    "e.keyCode==70){e.preventDefault();askSearch();}});\n"
    " var q=new URLSearchParams(location.search);if(q.has('x')){var "
    "x=+q.get('x'),d=+q.get('d');\n"
    "  for(var "
    "i=0;i<fr.length;i++)if(Math.abs(fr[i].x-x)<1e-9&&fr[i].d==d){zoom(fr[i].e)"
    ";break;}}\n"
    " if(q.has('s'))search(q.get('s'));}\n"
    "function fit(f){var px=f.w*(W-2*PAD),n=f.n,m=Math.floor(px/6.6);\n"
    " f.t.textContent=m<3?'':(n.length<=m?n:n.substring(0,m-2)+'..');}\n"
    "function "
    "place(f,x,w){f.r.setAttribute('x',PAD+x*(W-2*PAD));f.r.setAttribute('"
    "width',Math.max(0,w*(W-2*PAD)-0.5));\n"
    " f.t.setAttribute('x',PAD+x*(W-2*PAD)+3);fit({w:w,n:f.n,t:f.t});}\n"
    "function zoom(e){var z=null;for(var "
    "i=0;i<fr.length;i++)if(fr[i].e===e)z=fr[i];zoomed=z;\n"
    " var zx=z?z.x:0,zw=z?z.w:1,zd=z?z.d:0,eps=1e-9;\n"
    " for(var i=0;i<fr.length;i++){var f=fr[i];\n"
    "  "
    "if(f.d>=zd&&f.x>=zx-eps&&f.x+f.w<=zx+zw+eps){f.e.style.display='';f.e."
    "style.opacity=1;place(f,(f.x-zx)/zw,f.w/zw);}\n"
    "  else "
    "if(f.d<zd&&f.x<=zx+eps&&f.x+f.w>=zx+zw-eps){f.e.style.display='';f.e."
    "style.opacity=0.5;place(f,0,1);}\n"
    "  else f.e.style.display='none';}\n"
    " document.getElementById('unzoom').style.opacity=z?1:0;saveUrl();}\n"
    "function askSearch(){var t=prompt('Search frames (regular "
    "expression):',term||'');if(t)search(t);}\n"
    "function search(t){var re=null;term=t;if(t){try{re=new "
    "RegExp(t);}catch(x){alert('bad regular expression: "
    "'+x.message);term=null;}}\n"
    " var iv=[];for(var i=0;i<fr.length;i++){var "
    "f=fr[i],hit=re&&re.test(f.n);\n"
    "  "
    "f.r.setAttribute('fill',hit?'rgb(230,0,230)':f.c);if(hit)iv.push([f.x,f.x+"
    "f.w]);}\n"
    " iv.sort(function(a,b){return a[0]-b[0];});var sum=0,end=-1;\n"
    " for(var "
    "i=0;i<iv.length;i++){if(iv[i][0]>=end){sum+=iv[i][1]-iv[i][0];end=iv[i][1]"
    ";}\n"
    "  else if(iv[i][1]>end){sum+=iv[i][1]-end;end=iv[i][1];}}\n"
    " mat.textContent=re?'Matched: "
    "'+(100*sum).toFixed(1)+'%':'';sbtn.textContent=re?'Reset "
    "Search':'Search';saveUrl();}\n"
    "function saveUrl(){if(!window.history||!history.replaceState)return;var "
    "q=new URLSearchParams();\n"
    " if(zoomed){q.set('x',zoomed.x);q.set('d',zoomed.d);}if(term)q.set('s',"
    "term);\n"
    " var "
    "s=q.toString();try{history.replaceState(null,'',s?'?'+s:location.pathname)"
    ";}catch(x){}}\n";

static void xml_sink(void *ctx, const char *s, size_t len)
{
	fwrite(s, 1, len, ctx);
}

static int write_tree(struct tree *t, const struct write_opts *opts, FILE *out,
		      bool diff)
{
	int width = opts && opts->width > 0 ? opts->width : 1200;
	double min_w = opts && opts->min_width > 0 ? opts->min_width : 0.1;
	bool icicle = opts && opts->icicle;
	const char *title = opts && opts->title ? opts->title
			    : diff		? "Differential Flame Graph"
						: "Flame Graph";
	double total = (double)t->ct.nodes[0].total[1];
	double usable = width - 2 * PAD;
	double t0 = (double)t->ct.nodes[0].total[0];
	double max_delta = 0;
	char fill[64];

	if (tree__layout(t))
		return -ENOMEM;
	/* Only frames wide enough to see are drawn; the depth counts them. */
	uint32_t depth_shown = 0;
	for (size_t i = 0; i < t->ct.nr_nodes; i++) {
		const struct calltree_node *n = &t->ct.nodes[i];

		if (!total || n->total[1] / total * usable < min_w)
			continue;
		if (n->depth > depth_shown)
			depth_shown = n->depth;
		if (diff && t0) {
			double d = fabs(n->total[1] / total - n->total[0] / t0);

			if (d > max_delta)
				max_delta = d;
		}
	}
	int height = (int)(depth_shown + 1) * FRAME_H + HEADER + FOOTER;

	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"onload=\"init()\" "
		"data-icicle=\"%d\">\n",
		width, height, width, height, icicle ? 1 : 0);
	fputs("<style>text{font-family:Verdana,sans-serif;font-size:11px;fill:#"
	      "000}"
	      "g.f:hover rect{stroke:#000;stroke-width:0.5}g.f{cursor:pointer}"
	      "#title{font-size:17px;text-anchor:middle}#unzoom,#search{cursor:"
	      "pointer}"
	      "</style>\n<script type=\"text/ecmascript\"><![CDATA[\n",
	      out);
	fputs(svg_script, out);
	fputs("]]></script>\n", out);
	fprintf(out,
		"<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
		"fill=\"#f8f8f4\"/>\n",
		width, height);
	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"24\">", width / 2);
	escape__xml_file(out, title);
	fputs("</text>\n", out);
	if (diff)
		fprintf(out,
			"<text x=\"%d\" y=\"40\">widths: new profile (%" PRIu64
			" samples); colour: share change vs base (%" PRIu64
			" samples), red grew, blue shrank</text>\n",
			PAD, t->ct.nodes[0].total[1], t->ct.nodes[0].total[0]);
	fprintf(out,
		"<text id=\"unzoom\" x=\"%d\" y=\"24\" "
		"style=\"opacity:0\">Reset Zoom</text>\n",
		PAD);
	fprintf(out,
		"<text id=\"search\" x=\"%d\" y=\"24\" "
		"text-anchor=\"end\">Search</text>\n",
		width - PAD);
	fprintf(out,
		"<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> "
		"</text>\n",
		width - PAD, height - 8);
	fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", PAD,
		height - 8);

	for (size_t i = 0; i < t->ct.nr_nodes; i++) {
		const struct calltree_node *n = &t->ct.nodes[i];
		double w = total ? n->total[1] / total : 0;
		double px = w * usable;

		if (px < min_w)
			continue;
		double x = PAD + t->x[i] / total * usable;
		double y = icicle ? HEADER + n->depth * FRAME_H
				  : height - FOOTER - (n->depth + 1) * FRAME_H;
		const char *name = t->label[n->name];

		if (diff) {
			double d =
			    t0 ? n->total[1] / total - n->total[0] / t0 : 0;
			double in = max_delta > 0 ? fabs(d) / max_delta : 0;
			int c = (int)(235 * (1 - in));

			if (d > 0)
				snprintf(fill, sizeof(fill), "rgb(255,%d,%d)",
					 c, c);
			else if (d < 0)
				snprintf(fill, sizeof(fill), "rgb(%d,%d,255)",
					 c, c);
			else
				snprintf(fill, sizeof(fill),
					 "rgb(235,235,235)");
		} else {
			color_of(t, n, fill, sizeof(fill));
		}
		fprintf(out,
			"<g class=\"f\" data-x=\"%.9f\" data-w=\"%.9f\" "
			"data-d=\"%u\" data-n=\"",
			total ? t->x[i] / total : 0, w, n->depth);
		escape__xml_file(out, name);
		fputs("\"><title>", out);
		escape__xml_file(out, name);
		if (diff)
			fprintf(out,
				" (new %" PRIu64
				" samples, %.2f%%; base %" PRIu64
				" samples, %.2f%%; change %+.2f pp)",
				n->total[1], 100.0 * w, n->total[0],
				t0 ? 100.0 * n->total[0] / t0 : 0.0,
				t0 ? 100.0 * (w - n->total[0] / t0) : 0.0);
		else
			fprintf(out, " (%" PRIu64 " samples, %.2f%%)",
				n->total[1], 100.0 * w);
		fprintf(out,
			"</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%d\" "
			"fill=\"%s\" rx=\"2\"/><text x=\"%.1f\" y=\"%.1f\">",
			x, y, px > 0.5 ? px - 0.5 : px, FRAME_H - 1, fill,
			x + 3, y + FRAME_H - 4.5);
		size_t fit = (size_t)(px / FONT_W), len = strlen(name);
		if (fit >= 3) {
			if (len <= fit) {
				escape__xml_file(out, name);
			} else {
				/* Clip on a UTF-8 boundary so no sequence is
				 * cut in two. */
				escape__xml(
				    xml_sink, out, name,
				    escape__utf8_clip(name, len, fit - 2));
				fputs("..", out);
			}
		}
		fputs("</text></g>\n", out);
	}
	fputs("</svg>\n", out);
	if (ferror(out) || fflush(out))
		return -EIO;
	return 0;
}

int svg__write(const struct profile *p, const struct write_opts *opts,
	       FILE *out)
{
	struct tree t;
	int err;

	tree__init(&t);
	err = tree__add(&t, p, 1);
	if (!err)
		err = write_tree(&t, opts, out, false);
	tree__release(&t);
	return err;
}

int svg__write_diff(const struct profile *base, const struct profile *cur,
		    const struct write_opts *opts, FILE *out)
{
	struct tree t;
	int err;

	tree__init(&t);
	err = tree__add(&t, base, 0);
	if (!err)
		err = tree__add(&t, cur, 1);
	if (!err)
		err = write_tree(&t, opts, out, true);
	tree__release(&t);
	return err;
}
