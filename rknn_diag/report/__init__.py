"""Release qualification report: results lines in, one verdict and one page out.

    data       results files -> the flat pandas table, and each line's outcome
    gate       the TOML quality gate: load, check, evaluate its rules
    baseline   this run against an older one: new failures, fixed, moved accuracy, slower latency
    tables     the numbers every output shows (counts, matrix, accuracy, zoo, latency, failures)
    charts     matplotlib charts as inline SVG (optional dependency)
    html_page  index.html (self-contained)
    markdown   summary.md
    junit      junit.xml
    cli        `rknn-diag report`
"""
