//! Charts as inline SVG, drawn on the server: no script, no fonts to
//! measure, nothing fetched. Each chart is an image with a title and a
//! description for screen readers; the numbers themselves are in the table
//! beside it. A suppressed week is drawn as a short hatched stub, labelled
//! with what it stands for ("<5"), never as a bar of its true height.

use crate::{Cell, Row};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 10.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round upper bound for the axis: 1, 2 or 5 times a power of ten.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * magnitude >= v {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A bar chart of one row over the weeks (`columns` without the total).
/// `id` makes the title's and description's ids unique on the page.
pub fn bar_chart(id: &str, title: &str, description: &str, weeks: &[String], row: &Row) -> String {
    let cells = &row.cells[..weeks.len().min(row.cells.len())];
    let max = cells.iter().filter_map(Cell::value).fold(0.0, f64::max);
    let top = nice_ceiling(max);
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = (WIDTH - LEFT - 8.0) / cells.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    let id = escape(id);
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" \
         aria-labelledby=\"{id}-t {id}-d\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
        escape(title),
        escape(description)
    );
    // Ids are the page's: each chart's pattern has its own.
    out.push_str(&format!("<defs><pattern id=\"{id}-hatch\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\"><path d=\"M0 4 L4 0\" stroke=\"#595959\" stroke-width=\"1\"/></pattern></defs>"));
    // The axis: 0, half and the top, with grid lines.
    for f in [0.0, 0.5, 1.0] {
        let y = TOP + plot_h * (1.0 - f);
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{WIDTH}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#c8c8c8\" stroke-width=\"1\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"#1a1a1a\">{}</text>",
            LEFT - 4.0,
            y + 4.0,
            number(top * f)
        ));
    }
    // Every week's label would crowd a year: label about twelve of them.
    let every = cells.len().div_ceil(12).max(1);
    for (i, cell) in cells.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        match cell {
            Cell::Shown(v) => {
                let h = plot_h * v / top;
                out.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"#1f5f99\"><title>{}: {}</title></rect>",
                    TOP + plot_h - h,
                    escape(&weeks[i]),
                    number(*v)
                ));
            }
            Cell::Suppressed(k) => {
                let h = (plot_h * 0.06).max(3.0);
                out.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"url(#{id}-hatch)\" stroke=\"#595959\" stroke-width=\"0.5\"><title>{}: &lt;{k}</title></rect>",
                    TOP + plot_h - h,
                    escape(&weeks[i]),
                ));
            }
            Cell::Empty => {}
        }
        if i % every == 0 {
            let label = weeks[i]
                .split_once('-')
                .map_or(weeks[i].as_str(), |(_, w)| w);
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#1a1a1a\">{}</text>",
                x + bar / 2.0,
                HEIGHT - 10.0,
                escape(label)
            ));
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Unit;

    #[test]
    fn bars_are_as_tall_as_their_values_and_suppressed_weeks_are_stubs() {
        let weeks: Vec<String> = ["2026-W45", "2026-W46", "2026-W47"]
            .map(String::from)
            .into();
        let row = Row {
            key: "recordings".into(),
            unit: Unit::Count,
            cells: vec![
                Cell::Shown(10.0),
                Cell::Suppressed(5),
                Cell::Shown(5.0),
                Cell::Shown(15.0),
            ],
        };
        let svg = bar_chart(
            "c1",
            "Activations <per week>",
            "Recordings started",
            &weeks,
            &row,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("role=\"img\"") && svg.contains("aria-labelledby=\"c1-t c1-d\""));
        assert!(svg.contains("<title id=\"c1-t\">Activations &lt;per week&gt;</title>"));
        // The axis tops at 10: a bar of 10 fills the plot (142 px), 5 half of it.
        assert!(
            svg.contains("height=\"142.0\" fill=\"#1f5f99\"><title>2026-W45: 10</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("height=\"71.0\" fill=\"#1f5f99\"><title>2026-W47: 5</title>"),
            "{svg}"
        );
        // The suppressed week: a stub that says what it stands for; the
        // total (the fourth cell) is not drawn.
        assert!(svg.contains("<title>2026-W46: &lt;5</title>"));
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(!svg.contains(">15<"));
    }

    #[test]
    fn axes_end_on_round_numbers() {
        for (v, top) in [
            (0.0, 1.0),
            (0.7, 1.0),
            (3.0, 5.0),
            (11.0, 20.0),
            (999.0, 1000.0),
            (1001.0, 2000.0),
        ] {
            assert_eq!(nice_ceiling(v), top, "{v}");
        }
    }
}
