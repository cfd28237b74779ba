"""User-facing labels for output columns and coded values, in Chinese (default) and English.

Column names inside geoplan are short English keys (``canteen_share_15``). Tables and maps
for planners show them as labels with units, e.g.

* ``canteen_share_15`` → ``长者食堂/社区助餐点15分钟覆盖率（60岁以上）`` /
  ``Elder canteen / meal point: share of 60+ within 15 min``
* ``circle_share`` → ``15分钟服务圈完整率`` / ``Complete 15-min service circle: share of 60+``

Per-type columns are recognised by pattern (``<type>_share_<M>``, ``<type>_share80_<M>``,
``<type>_median_min``, ``<type>_p90_min``, ``<type>_uncovered_60``, ``<type>_time_min``)
where ``<type>`` is a key of :data:`~geoplan.sources.facility_types.FACILITY_TYPES`.
The circle time is a setting, so functions take ``circle_minutes``. Unknown columns and
unknown coded values pass through unchanged.

Population figures that were spread from higher-level totals rather than counted are
marked with :func:`estimate_note` ("估算" / "estimate").
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from geoplan.notes import Note
from geoplan.sources.facility_types import FACILITY_TYPES

LANGS = ("zh", "en")

#: Column kinds used for formatting: share (0..1, shown as percent), minutes, persons,
#: metres, count, rank, flag, text.
KIND_SHARE = "share"
KIND_MINUTES = "minutes"
KIND_PERSONS = "persons"
KIND_METRES = "metres"
KIND_COUNT = "count"
KIND_INDEX = "index"  # a dimensionless index such as the Gini (shown with 3 decimals)
KIND_TEXT = "text"

_ESTIMATE = {"zh": "估算", "en": "estimate"}

# column -> (zh, en, kind); "{c}" is replaced by the circle minutes.
_STATIC: dict[str, tuple[str, str, str]] = {
    # areas
    "area_id": ("区域编号", "Area ID", KIND_TEXT),
    "area_kind": ("区域类型", "Area kind", KIND_TEXT),
    "code": ("代码", "Code", KIND_TEXT),
    "name": ("名称", "Name", KIND_TEXT),
    "street_code": ("街道代码", "Street code", KIND_TEXT),
    "street_name": ("街道", "Street", KIND_TEXT),
    "elderly_60": ("60岁以上老人（人）", "Residents 60+ (persons)", KIND_PERSONS),
    "elderly_80": ("80岁以上老人（人）", "Residents 80+ (persons)", KIND_PERSONS),
    "pop_estimated": ("人口数据", "Population figures", KIND_TEXT),
    "n_demand_points": ("需求点数（个）", "Demand points (count)", KIND_COUNT),
    "n_areas": ("区域数（个）", "Areas (count)", KIND_COUNT),
    "circle_share": ("{c}分钟服务圈完整率", "Complete {c}-min service circle: share of 60+",
                     KIND_SHARE),
    "circle_share80": ("{c}分钟服务圈完整率（80岁以上）",
                       "Complete {c}-min service circle: share of 80+", KIND_SHARE),
    "uncovered_60": ("{c}分钟服务圈外60岁以上老人（人）",
                     "60+ outside the complete {c}-min circle (persons)", KIND_PERSONS),
    "uncovered_80": ("{c}分钟服务圈外80岁以上老人（人）",
                     "80+ outside the complete {c}-min circle (persons)", KIND_PERSONS),
    "gap_rank": ("缺口排名（1=最差）", "Gap rank (1 = worst)", KIND_COUNT),
    # demand points
    "demand_id": ("需求点编号", "Demand point ID", KIND_TEXT),
    "floor_area_m2": ("建筑面积（平方米）", "Floor area (m²)", KIND_METRES),
    "source": ("需求点来源", "Demand point source", KIND_TEXT),
    # facilities
    "fid": ("设施编号", "Facility ID", KIND_TEXT),
    "layer": ("数据图层", "Data layer", KIND_TEXT),
    "type": ("设施类型", "Facility type", KIND_TEXT),
    "address": ("地址", "Address", KIND_TEXT),
    "street": ("所属街道", "Street", KIND_TEXT),
    "district": ("所属区", "District", KIND_TEXT),
    "capacity": ("容量", "Capacity", KIND_COUNT),
    "beds": ("床位数（张）", "Beds", KIND_COUNT),
    "nursing_beds": ("护理床位数（张）", "Nursing beds", KIND_COUNT),
    "public": ("公办", "Public (公办)", KIND_TEXT),
    "snap_m": ("距步行路网（米）", "Distance to walking network (m)", KIND_METRES),
    "outside_boundary": ("位于研究范围外", "Outside the study boundary", KIND_TEXT),
    "serves_inside_60": ("就近服务范围内60岁及以上老人（人）",
                         "Residents 60+ inside for whom it is the nearest in reach",
                         KIND_PERSONS),
    "geocode_note": ("定位存疑（地理编码）", "Doubtful location (geocoder)", KIND_TEXT),
    # name matches of [[joins]]
    "join": ("关联表", "Joined table", KIND_TEXT),
    "left_row": ("设施表行号", "Facility row", KIND_COUNT),
    "left_name": ("设施名称", "Facility name", KIND_TEXT),
    "left_street": ("设施所属街道", "Facility street", KIND_TEXT),
    "right_row": ("关联表行号", "Joined row", KIND_COUNT),
    "right_name": ("关联表名称", "Joined name", KIND_TEXT),
    "right_street": ("关联表街道", "Joined street", KIND_TEXT),
    "match": ("匹配方式", "Match", KIND_TEXT),
    "match_score": ("相似度（0–100）", "Similarity (0-100)", KIND_COUNT),
    "match_note": ("匹配说明", "Match note", KIND_TEXT),
    # isochrones
    "threshold_min": ("步行时间阈值（分钟）", "Walking time threshold (min)", KIND_MINUTES),
    # issues
    "file": ("文件", "File", KIND_TEXT),
    "row": ("行号", "Row", KIND_COUNT),
    "problem": ("问题", "Problem", KIND_TEXT),
    "detail": ("详情", "Detail", KIND_TEXT),
    "action": ("处理方式", "Action taken", KIND_TEXT),
    # population ledger
    "ledger": ("台账", "Ledger", KIND_TEXT),
    "entry": ("条目", "Entry", KIND_TEXT),
    "stage": ("环节", "Stage", KIND_TEXT),
    "reason": ("原因", "Reason", KIND_TEXT),
    "facility_rows": ("设施记录（条）", "Facility rows", KIND_COUNT),
    "area_codes": ("涉及区域", "Areas concerned", KIND_TEXT),
    "excluded_60": ("未纳入计算的60岁以上老人（人）", "Residents 60+ not scored (persons)",
                    KIND_PERSONS),
    "excluded_80": ("未纳入计算的80岁以上老人（人）", "Residents 80+ not scored (persons)",
                    KIND_PERSONS),
    "excluded_reason": ("未纳入原因", "Why not scored", KIND_TEXT),
    # network edges
    "u": ("起点节点", "From node", KIND_TEXT),
    "v": ("终点节点", "To node", KIND_TEXT),
    "length_m": ("长度（米）", "Length (m)", KIND_METRES),
    "time_s": ("步行时间（秒）", "Walking time (s)", KIND_COUNT),
    "highway": ("道路类型（OSM highway）", "Road type (OSM highway)", KIND_TEXT),
    "geometry": ("几何", "Geometry", KIND_TEXT),
    # siting
    "scenario": ("规划情景", "Scenario", KIND_TEXT),
    "model": ("选址模型", "Location model", KIND_TEXT),
    "method": ("求解方法", "Solution method", KIND_TEXT),
    "status": ("求解状态", "Solver status", KIND_TEXT),
    "objective": ("目标值", "Objective value", KIND_COUNT),
    "objective_name": ("目标含义", "Objective", KIND_TEXT),
    "bound": ("最优界", "Proven bound", KIND_COUNT),
    "gap": ("最优性差距", "Optimality gap", KIND_SHARE),
    "verified": ("结果已独立核验", "Answer independently verified", KIND_TEXT),
    "limited_by": ("限制目标的条件", "Rules that limit the target", KIND_TEXT),
    "solver_attempts": ("求解器运行记录", "Solver runs and their checks", KIND_TEXT),
    "equity_floor": ("区域覆盖率下限", "Area coverage floor", KIND_SHARE),
    "min_area_share_before": ("规划前最低区域覆盖率", "Smallest area share before", KIND_SHARE),
    "min_area_share_after": ("规划后最低区域覆盖率", "Smallest area share after", KIND_SHARE),
    "areas_below_floor_before": ("规划前低于下限的区域比例",
                                 "Share of areas below the floor, before", KIND_SHARE),
    "areas_below_floor_after": ("规划后低于下限的区域比例",
                                "Share of areas below the floor, after", KIND_SHARE),
    "gini_before": ("规划前覆盖基尼系数（按人口加权）",
                    "Gini of area coverage before (population-weighted)", KIND_INDEX),
    "gini_after": ("规划后覆盖基尼系数（按人口加权）",
                   "Gini of area coverage after (population-weighted)", KIND_INDEX),
    "rank": ("建议顺序", "Rank", KIND_COUNT),
    "cid": ("候选点编号", "Candidate ID", KIND_TEXT),
    "origin": ("候选点来源", "Candidate source", KIND_TEXT),
    "cost": ("成本", "Cost", KIND_COUNT),
    "marginal": ("新增覆盖老人（人）", "Older residents gained (persons)", KIND_PERSONS),
    "cum_covered": ("累计覆盖老人（人）", "Older residents covered, cumulative (persons)",
                    KIND_PERSONS),
    "elderly": ("老年人口（人）", "Older residents (persons)", KIND_PERSONS),
    "covered_before": ("规划前覆盖老人（人）", "Covered before (persons)", KIND_PERSONS),
    "covered_after": ("规划后覆盖老人（人）", "Covered after (persons)", KIND_PERSONS),
    "share_before": ("规划前覆盖率", "Share covered before", KIND_SHARE),
    "share_after": ("规划后覆盖率", "Share covered after", KIND_SHARE),
    "gain": ("新增覆盖老人（人）", "Gain (persons)", KIND_PERSONS),
    "sites": ("新增设施数（个）", "New sites (count)", KIND_COUNT),
    "covered": ("覆盖老人（人）", "Covered (persons)", KIND_PERSONS),
    "share": ("覆盖率", "Share covered", KIND_SHARE),
    "new_sites": ("新增设施数（个）", "New sites (count)", KIND_COUNT),
    "candidates": ("候选点数（个）", "Candidate sites (count)", KIND_COUNT),
    "cutoff_min": ("服务半径（步行分钟）", "Catchment (walking minutes)", KIND_MINUTES),
    "target": ("目标覆盖率", "Target share", KIND_SHARE),
    "best_share": ("可达到的最高覆盖率", "Best achievable share", KIND_SHARE),
    "unreachable_weight": ("候选点均无法覆盖的老人（人）",
                           "Older residents no candidate can reach (persons)", KIND_PERSONS),
    "points": ("需求点数（个）", "Demand points (count)", KIND_COUNT),
    "mean_min_before": ("规划前平均步行时间（分钟）", "Mean walk before (min)", KIND_MINUTES),
    "mean_min_after": ("规划后平均步行时间（分钟）", "Mean walk after (min)", KIND_MINUTES),
    "wtime_before": ("规划前步行时间合计（人·分钟）", "Walking time before (person-min)",
                     KIND_COUNT),
    "wtime_after": ("规划后步行时间合计（人·分钟）", "Walking time after (person-min)",
                    KIND_COUNT),
    "served_total": ("获得服务老人（人）", "Older residents served (persons)", KIND_PERSONS),
    "served_new": ("新设施服务老人（人）", "Served by new sites (persons)", KIND_PERSONS),
    "served_share_after": ("规划后获得服务比例", "Share served after", KIND_SHARE),
    "site_id": ("设施/候选点编号", "Site ID", KIND_TEXT),
    "site_name": ("设施/候选点名称", "Site name", KIND_TEXT),
    "existing": ("现状设施", "Existing facility", KIND_TEXT),
    "persons": ("服务人数（人）", "Persons served", KIND_PERSONS),
    "time_min": ("步行时间（分钟）", "Walking time (min)", KIND_MINUTES),
    "source_row": ("源文件行号", "Source row", KIND_COUNT),
    "served_existing": ("现状设施服务老人（人）", "Served by existing (persons)", KIND_PERSONS),
    "study_area": ("研究范围", "Study area", KIND_TEXT),
    # standards
    "unit_level": ("层级", "Level", KIND_TEXT),
    "unit_code": ("单元代码", "Unit code", KIND_TEXT),
    "unit_name": ("单元（区/街道）", "Unit (district / street)", KIND_TEXT),
    "standard_id": ("标准编号", "Standard ID", KIND_TEXT),
    "standard": ("规划标准", "Planning standard", KIND_TEXT),
    "std_kind": ("标准类型", "Kind of standard", KIND_TEXT),
    "committees": ("居委会数（个）", "Residents' committees (count)", KIND_COUNT),
    "required": ("标准要求", "Required", KIND_COUNT),
    "required_strict": ("标准要求（严格口径）", "Required (strict end)", KIND_COUNT),
    "existing_amount": ("现状", "Existing", KIND_COUNT),
    "existing_source": ("现状数据来源", "Existing: source", KIND_TEXT),
    "n_facilities": ("相关设施数（处）", "Facilities counted", KIND_COUNT),
    "unknown_rows": ("缺少属性的设施（处，按未知计）", "Facilities lacking the attribute "
                     "(unknown, not zero)", KIND_COUNT),
    "shortfall": ("缺口", "Shortfall", KIND_COUNT),
    "shortfall_share": ("缺口占要求比例", "Shortfall as share of requirement", KIND_SHARE),
    "check_status": ("检查结果", "Result", KIND_TEXT),
    "std_unit": ("单位", "Unit", KIND_TEXT),
    "std_source": ("依据", "Source", KIND_TEXT),
    "fail": ("未达标（个）", "Fail (count)", KIND_COUNT),
    "unknown": ("数据不全（个）", "Data incomplete (count)", KIND_COUNT),
    "no_base": ("缺少人口/居委会数（个）", "No population / committee count (count)", KIND_COUNT),
    "no_data": ("无设施数据（个）", "No facility data (count)", KIND_COUNT),
    "pass": ("达标（个）", "Pass (count)", KIND_COUNT),
    "streets_pass": ("达标街道（个）", "Streets passing", KIND_COUNT),
    "streets_fail": ("未达标街道（个）", "Streets failing", KIND_COUNT),
    "streets_unknown": ("数据不全街道（个）", "Streets unknown (data missing)", KIND_COUNT),
    "district_result": ("全区结果", "District result", KIND_TEXT),
    "display_name": ("区域", "Area", KIND_TEXT),
    "located": ("已定位", "Located", KIND_TEXT),
    "attribute": ("缺少的属性", "Missing attribute", KIND_TEXT),
    "standards_shortfall": ("所在街道标准平均缺口", "Street's mean standards shortfall",
                            KIND_SHARE),
    "standards_checked": ("已检查标准数（项）", "Standards checked (count)", KIND_COUNT),
    "standards_failed": ("未达标标准数（项）", "Standards failed (count)", KIND_COUNT),
    # gap index
    "gap_uncovered": ("缺口分项：服务圈外比例", "Component: share outside the circle",
                      KIND_SHARE),
    "gap_access": ("缺口分项：可达性不足", "Component: accessibility shortfall", KIND_SHARE),
    "gap_standards": ("缺口分项：规划标准缺口", "Component: standards shortfall", KIND_SHARE),
    "contrib_uncovered": ("指数贡献：服务圈外", "Index points: outside the circle",
                          KIND_COUNT),
    "contrib_access": ("指数贡献：可达性", "Index points: accessibility", KIND_COUNT),
    "contrib_standards": ("指数贡献：规划标准", "Index points: standards", KIND_COUNT),
    "gap_components": ("参与计算的分项", "Components used", KIND_TEXT),
    "gap_index": ("综合缺口指数（0–100，越高越差）", "Composite gap index (0–100, higher = "
                  "worse)", KIND_COUNT),
    "gap_index_rank": ("综合缺口排名（1=最差）", "Composite gap rank (1 = worst)", KIND_COUNT),
}

_NUM = r"(?P<m>\d+(?:[.p]\d+)?)"
#: Units of accessibility supply other than a type's own capacity (zh, en), by attribute.
SUPPLY_UNITS = {"beds": ("张床位", "beds"), "nursing_beds": ("张护理床位", "nursing beds"),
                "floor_area_m2": ("平方米建筑面积", "m² floor area"),
                "count": ("个设施", "facilities")}
_SUPPLY_UNITS = "|".join(SUPPLY_UNITS)
_TYPE_KEYS = "|".join(sorted((re.escape(k) for k in FACILITY_TYPES), key=len, reverse=True))
_PATTERNS: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_share_{_NUM}$"),
     "{t}{m}分钟覆盖率（60岁以上）", "{t}: share of 60+ within {m} min", KIND_SHARE),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_share80_{_NUM}$"),
     "{t}{m}分钟覆盖率（80岁以上）", "{t}: share of 80+ within {m} min", KIND_SHARE),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_median_min$"),
     "{t}步行时间中位数（分钟）", "{t}: median walking time (min)", KIND_MINUTES),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_p90_min$"),
     "{t}步行时间90%分位数（分钟）", "{t}: 90th percentile walking time (min)", KIND_MINUTES),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_uncovered_60$"),
     "{t}{c}分钟外60岁以上老人（人）", "{t}: 60+ beyond {c} min (persons)", KIND_PERSONS),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_uncovered_80$"),
     "{t}{c}分钟外80岁以上老人（人）", "{t}: 80+ beyond {c} min (persons)", KIND_PERSONS),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_share_before$"),
     "{t}规划前覆盖率", "{t}: share covered before", KIND_SHARE),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_share_after$"),
     "{t}规划后覆盖率", "{t}: share covered after", KIND_SHARE),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_min_area_share_before$"),
     "{t}规划前最低区域覆盖率", "{t}: smallest area share before", KIND_SHARE),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_min_area_share_after$"),
     "{t}规划后最低区域覆盖率", "{t}: smallest area share after", KIND_SHARE),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_areas_below_floor_before$"),
     "{t}规划前低于下限的区域比例", "{t}: share of areas below the floor, before",
     KIND_SHARE),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_areas_below_floor_after$"),
     "{t}规划后低于下限的区域比例", "{t}: share of areas below the floor, after",
     KIND_SHARE),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_gini_before$"),
     "{t}规划前覆盖基尼系数（按人口加权）", "{t}: Gini of area coverage before "
     "(population-weighted)", KIND_INDEX),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_gini_after$"),
     "{t}规划后覆盖基尼系数（按人口加权）", "{t}: Gini of area coverage after "
     "(population-weighted)", KIND_INDEX),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_covered_before$"),
     "{t}规划前覆盖老人（人）", "{t}: covered before (persons)", KIND_PERSONS),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_covered_after$"),
     "{t}规划后覆盖老人（人）", "{t}: covered after (persons)", KIND_PERSONS),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_gain$"),
     "{t}新增覆盖老人（人）", "{t}: gain (persons)", KIND_PERSONS),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_new_sites$"),
     "{t}新增设施数（个）", "{t}: new sites (count)", KIND_COUNT),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_candidates$"),
     "{t}候选点数（个）", "{t}: candidate sites (count)", KIND_COUNT),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_cutoff_min$"),
     "{t}服务半径（步行分钟）", "{t}: catchment (walking minutes)", KIND_MINUTES),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_type$"),
     "{t}设施类型", "{t}: facility type", KIND_TEXT),
    (re.compile(rf"^(?P<t>{_TYPE_KEYS})_time_min$"),
     "{t}步行时间（分钟）", "{t}: walking time (min)", KIND_MINUTES),
    (re.compile(rf"^acc_(?P<t>{_TYPE_KEYS})_(?:(?P<s>{_SUPPLY_UNITS})_)?"
                r"(?P<a>2sfca|e2sfca_step|e2sfca_gaussian)$"),
     "{t}可达性{a}（每千名老人{u}）", "{t}: {a} accessibility ({u} per 1,000 elderly)",
     KIND_COUNT),
    (re.compile(rf"^gap_access_(?P<t>{_TYPE_KEYS})$"),
     "缺口分项：{t}可达性不足", "Component: {t} accessibility shortfall", KIND_SHARE),
    (re.compile(rf"^supply_(?P<t>{_TYPE_KEYS})(?:_(?P<s>{_SUPPLY_UNITS}))?$"),
     "{t}供给（{u}）", "{t}: supply ({u})", KIND_COUNT),
    (re.compile(r"^ratio_(?P<a>2sfca|e2sfca_step|e2sfca_gaussian)$"),
     "{a}供需比（每千名老人）", "{a} supply ratio (per 1,000 elderly)", KIND_COUNT),
)
#: Display names of the accessibility methods.
ACCESS_METHOD_NAMES = {"2sfca": ("（2SFCA）", " 2SFCA"),
                       "e2sfca_step": ("（E2SFCA分段衰减）", " E2SFCA (step decay)"),
                       "e2sfca_gaussian": ("（E2SFCA高斯衰减）", " E2SFCA (Gaussian decay)")}

#: Value labels of coded columns: column -> code -> (zh, en).
AREA_KINDS: dict[str, tuple[str, str]] = {
    "committee": ("居委会", "Residents' committee"),
    "compound": ("小区", "Residential compound"),
    "grid": ("网格", "Grid cell"),
}
DEMAND_SOURCES: dict[str, tuple[str, str]] = {
    "building": ("建筑", "Building"),
    "compound": ("小区", "Residential compound"),
    "grid": ("网格", "Grid cell"),
    "committee": ("居委会", "Residents' committee"),
}
#: Problem codes of the data-issues table (geoplan.sources.facilities, the pipeline, and
#: codes other sources may use). Unknown codes are shown as they are.
PROBLEMS: dict[str, tuple[str, str]] = {
    "missing_coordinates": ("缺少坐标", "Missing coordinates"),
    "unparseable_coordinates": ("坐标无法识别", "Coordinates not readable"),
    "bad_coordinates": ("坐标无效", "Invalid coordinates"),
    "outside_study_area": ("位于研究范围外", "Outside the study area"),
    "duplicate": ("重复记录", "Duplicate record"),
    "missing_name": ("缺少名称", "Missing name"),
    "unknown_type": ("设施类型未知", "Unknown facility type"),
    "unparseable_capacity": ("容量无法识别", "Capacity not readable"),
    "unparseable_beds": ("床位数无法识别", "Beds not readable"),
    "unparseable_nursing_beds": ("护理床位数无法识别", "Nursing beds not readable"),
    "unparseable_floor_area_m2": ("建筑面积无法识别", "Floor area not readable"),
    "bad_capacity": ("容量无法识别", "Capacity not readable"),
    "far_from_network": ("距步行路网过远", "Too far from the walking network"),
    "beyond_network": ("位于路网范围之外", "Beyond the walking network's extent"),
    "not_reachable": ("无法步行到达", "Not reachable on foot"),
    "missing_population": ("缺少人口数据", "Missing population figures"),
    "bad_population": ("人口数据无效", "Invalid population figures"),
    "invalid_geometry": ("几何图形无效", "Invalid geometry"),
    "empty_geometry": ("几何图形为空", "Empty geometry"),
    "missing_code": ("缺少代码", "Missing code"),
    "unmatched_street": ("街道无法匹配", "Street not matched"),
    "no_demand": ("无需求点", "No demand points"),
    "encoding": ("文字编码问题", "Text encoding problem"),
    "at_existing_facility": ("与现状设施重合", "At an existing facility"),
    "bad_cost": ("成本无法识别", "Cost not readable"),
    "unmapped_category": ("类别未映射到设施类型", "Category not mapped to a facility type"),
    "low_geocode_quality": ("地理编码精度低", "Low geocoder quality"),
    "join_unmatched": ("名称匹配失败", "No matching facility by name"),
}
CANDIDATE_ORIGINS: dict[str, tuple[str, str]] = {
    "file": ("候选点文件", "Candidate file"),
    "cluster": ("未覆盖需求聚类中心", "Cluster of uncovered demand"),
    "building": ("临街非居住建筑", "Street-facing non-residential building"),
    "grid": ("路网网格节点", "Network node on a grid"),
}
MODELS: dict[str, tuple[str, str]] = {
    "mclp": ("最大覆盖模型（MCLP）", "Maximal covering (MCLP)"),
    "lscp": ("集合覆盖模型（LSCP）", "Set covering (LSCP)"),
    "pmedian": ("P-中位模型（总步行时间最小）", "p-median (least total walking time)"),
    "cmclp": ("带容量的最大覆盖模型", "Capacitated maximal covering"),
    "multi": ("多类型联合规划（1+N）", "Multi-type plan (1+N)"),
}
STATUSES: dict[str, tuple[str, str]] = {
    "optimal": ("已证明最优", "Proven optimal"),
    "time_limit": ("达到时间上限（给出差距）", "Time limit reached (gap stated)"),
    "heuristic": ("启发式解（给出差距）", "Heuristic (gap stated)"),
    "unproven": ("未证明最优（给出差距）", "Not proven optimal (gap stated)"),
    "no_solution": ("达到时间上限，无可行解", "Time limit reached, no solution"),
    "infeasible": ("目标在约束下不可达（给出最佳可达比例）",
                   "Target unreachable under the rules (best share stated)"),
    "error": ("求解器出错", "Solver error"),
}
#: Action codes of the data-issues table.
ACTIONS: dict[str, tuple[str, str]] = {
    "dropped": ("已剔除", "Dropped"),
    "not attached": ("未关联", "Not attached"),
    "kept": ("保留", "Kept"),
    "snapped": ("已就近接入路网", "Snapped to the network"),
    "repaired": ("已修复", "Repaired"),
    "merged": ("已合并", "Merged"),
    "estimated": ("已估算", "Estimated"),
    "defaulted": ("采用默认值", "Default used"),
    "converted": ("已转换坐标", "Coordinates converted"),
    "ignored": ("已忽略", "Ignored"),
    "check": ("请人工核查", "Please check"),
}
_FLAG = {True: ("估算", "estimate"), False: ("统计", "reported")}
CHECK_STATUSES: dict[str, tuple[str, str]] = {
    "pass": ("达标", "Pass"),
    "fail": ("未达标", "Fail"),
    "unknown": ("数据不全（待补充属性）", "Unknown (attributes missing)"),
    "no_base": ("缺少人口/居委会数", "No population / committee count"),
    "no_data": ("无设施数据", "No facility data"),
}
UNIT_LEVELS: dict[str, tuple[str, str]] = {"district": ("区", "District"),
                                           "street": ("街道", "Street")}
STANDARD_KINDS: dict[str, tuple[str, str]] = {
    "per_elderly": ("按老年人口比例", "Per elderly"),
    "min_count": ("最少设施数", "Minimum count"),
    "per_committees": ("按居委会数", "Per residents' committees"),
}

#: Ledger entries and reasons (geoplan.analysis.ledger); facility reasons are the
#: problem codes of the issues table.
LEDGER_ENTRIES: dict[str, tuple[str, str]] = {
    "entered": ("输入", "Entered"),
    "scored": ("纳入计算", "Scored"),
    "excluded": ("未纳入", "Excluded"),
    "of_which": ("其中", "Of which"),
}
#: Pipeline steps that recorded a ledger entry (column ``stage``).
LEDGER_STAGES: dict[str, tuple[str, str]] = {
    "areas": ("分析区域", "Areas"),
    "demand": ("需求点", "Demand points"),
    "network": ("步行路网", "Walking network"),
    "coverage": ("覆盖计算", "Coverage"),
    "facilities": ("设施", "Facilities"),
}
LEDGER_REASONS: dict[str, tuple[str, str]] = {
    "areas_file": ("区域文件中的老年人口", "Counts in the areas file"),
    "census_spreading": ("按建筑面积和普查比例估算", "Census shares spread over floor area"),
    "scored": ("纳入覆盖计算", "Scored"),
    "outside_study_area": ("位于研究范围外", "Outside the study area"),
    "outside_every_area": ("不在任何分析区域内", "In no analysis area"),
    "no_walkable_way_in_area": ("区域内没有可步行道路", "No walkable way in the area"),
    "home_far_from_network": ("住宅距步行路网过远", "Homes too far from the walking network"),
    "separate_network_part": ("位于独立路网片区（单独计算）",
                              "On a separate network part (analysed on its own)"),
    "rows_read": ("读取记录", "Rows read"),
    "placed": ("已定位并纳入计算", "Placed"),
    "blank_row": ("空行", "Blank row"),
    "category_left_out": ("按类别映射不纳入（配置为\"\"）", "Category left out on purpose"),
    "filtered_out": ("按筛选条件不纳入", "Left out by filter_values"),
    **PROBLEMS,
}

_VALUE_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "entry": LEDGER_ENTRIES,
    "stage": LEDGER_STAGES,
    "reason": LEDGER_REASONS,
    "excluded_reason": LEDGER_REASONS,
    "ledger": {"people": ("老年人口", "Older residents"),
               "facilities": ("设施记录", "Facility rows")},
    "area_kind": AREA_KINDS,
    "source": DEMAND_SOURCES,
    "problem": PROBLEMS,
    "action": ACTIONS,
    "type": {k: (t.name_zh, t.name_en) for k, t in FACILITY_TYPES.items()},
    "origin": CANDIDATE_ORIGINS,
    "model": MODELS,
    "status": STATUSES,
    "method": {"exact": ("精确求解（HiGHS）", "Exact (HiGHS MILP)"),
               "heuristic": ("启发式", "Heuristic")},
    "check_status": CHECK_STATUSES,
    "unit_level": UNIT_LEVELS,
    "std_kind": STANDARD_KINDS,
    "match": {"exact": ("完全一致", "Exact"), "normalised": ("规范化后一致", "Normalised"),
              "fuzzy": ("模糊匹配", "Fuzzy"), "unmatched": ("未匹配", "Unmatched")},
}

#: Text columns that may hold :class:`~geoplan.notes.Note` values (shown in ``lang``).
_NOTE_COLUMNS = frozenset({"detail"})

#: Sheet / layer display names: key -> (zh, en).
SHEET_NAMES: dict[str, tuple[str, str]] = {
    "areas": ("区域指标", "Areas"),
    "streets": ("街道汇总", "Streets"),
    "summary": ("全区汇总", "Summary"),
    "facilities": ("设施", "Facilities"),
    "demand": ("需求点", "Demand points"),
    "issues": ("数据问题", "Data issues"),
    "notes": ("说明", "Notes"),
    "scenarios": ("情景汇总", "Scenarios"),
    "sites": ("建议选址", "Proposed sites"),
    "curve": ("覆盖曲线", "Coverage curve"),
    "areas_change": ("区域前后对比", "Areas before-after"),
    "streets_change": ("街道前后对比", "Streets before-after"),
    "assignment": ("服务分配", "Assignment"),
    "unreachable": ("无法覆盖的需求", "Unreachable demand"),
    "candidates": ("候选点", "Candidate sites"),
    "standards": ("规划标准检查", "Standards check"),
    "standards_summary": ("标准检查汇总", "Standards summary"),
    "street_bases": ("街道人口与居委会", "Street bases"),
    "inventory": ("现状设施清单", "Facility inventory"),
    "standards_missing": ("缺少属性的设施", "Facilities lacking attributes"),
    "joins": ("名称匹配", "Name matches"),
    "ledger": ("人口与设施台账", "Ledger"),
}


def _check_lang(lang: str) -> int:
    if lang not in LANGS:
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    return LANGS.index(lang)


def format_minutes(minutes: float | str) -> str:
    """Format a minute value for labels: ``15.0`` → ``"15"``, ``7.5`` → ``"7.5"``.

    Column suffixes such as ``"7p5"`` are read as 7.5.
    """
    if isinstance(minutes, str):
        minutes = float(minutes.replace("p", "."))
    if float(minutes).is_integer():
        return str(int(minutes))
    return f"{minutes:g}"


def _match(col: str) -> tuple[tuple[str, str, str], dict[str, str]] | None:
    if col in _STATIC:
        return _STATIC[col], {}
    for pattern, zh, en, kind in _PATTERNS:
        m = pattern.match(col)
        if m:
            return (zh, en, kind), m.groupdict()
    return None


def column_kind(col: str) -> str | None:
    """Kind of a known column (``"share"``, ``"minutes"``, ``"persons"`` ...), else None."""
    found = _match(col)
    return found[0][2] if found else None


def is_share_column(col: str) -> bool:
    """True for columns holding a share between 0 and 1 (shown as percent)."""
    return column_kind(col) == KIND_SHARE


def high_is_bad(column: str) -> bool:
    """True for area scores where a higher value means a worse-served area."""
    return (column.startswith("gap_") or "uncovered" in column
            or column.endswith(("_median_min", "_p90_min"))) and column != "gap_index_rank"


def column_label(col: str, lang: str = "zh", circle_minutes: float = 15) -> str:
    """Display label of an output column, with units.

    Parameters
    ----------
    col : str
        Column key, e.g. ``"canteen_share_15"``.
    lang : {"zh", "en"}
        Label language.
    circle_minutes : float
        Walking time of the service circle, used in ``circle_share`` and
        ``*_uncovered_60`` labels.

    Returns
    -------
    str
        The label; unknown columns are returned unchanged.
    """
    i = _check_lang(lang)
    found = _match(col)
    if found is None:
        return col
    (zh, en, _kind), groups = found
    fields = {"c": format_minutes(circle_minutes)}
    if "t" in groups:
        ft = FACILITY_TYPES[groups["t"]]
        fields["t"] = ft.name(lang)
        fields["u"] = ft.capacity_unit_zh if lang == "zh" else ft.capacity_unit_en
    if groups.get("s") is not None:  # supply other than the type's capacity
        fields["u"] = SUPPLY_UNITS[groups["s"]][i]
    if groups.get("a") is not None:
        fields["a"] = ACCESS_METHOD_NAMES[groups["a"]][i].strip() if lang == "en" else \
            ACCESS_METHOD_NAMES[groups["a"]][i]
    if groups.get("m") is not None:
        fields["m"] = format_minutes(groups["m"])
    return (zh, en)[i].format(**fields)


def estimate_note(lang: str = "zh") -> str:
    """The marker for estimated population figures: ``"估算"`` or ``"estimate"``."""
    return _ESTIMATE[LANGS[_check_lang(lang)]]


def with_estimate(text: str, estimated: bool, lang: str = "zh") -> str:
    """Append the estimate marker to ``text`` when ``estimated`` is true.

    ``with_estimate("1,234", True)`` → ``"1,234（估算）"``; English: ``"1,234 (estimate)"``.
    """
    if not estimated:
        return text
    note = estimate_note(lang)
    return f"{text}（{note}）" if lang == "zh" else f"{text} ({note})"


def value_label(col: str, value: Any, lang: str = "zh") -> Any:
    """Display label of a coded value (area kind, source, facility type, problem, action).

    ``pop_estimated`` flags become ``"估算"``/``"统计"`` (``"estimate"``/``"reported"``).
    Unknown columns and codes, and missing values, are returned unchanged.
    """
    i = _check_lang(lang)
    if isinstance(value, Note):  # a text with its translation (ledger details, notes)
        return value.text(lang)
    if col == "pop_estimated":
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return value
        try:
            return _FLAG[bool(value)][i]
        except (TypeError, ValueError):
            return value
    table = _VALUE_COLUMNS.get(col)
    if table is None or not isinstance(value, str):
        return value
    pair = table.get(value)
    return pair[i] if pair else value


def value_labels(col: str, lang: str = "zh") -> dict[Any, str]:
    """All known value labels of a coded column as ``{code: label}`` (empty if none)."""
    i = _check_lang(lang)
    if col == "pop_estimated":
        return {k: v[i] for k, v in _FLAG.items()}
    return {k: v[i] for k, v in _VALUE_COLUMNS.get(col, {}).items()}


def sheet_name(key: str, lang: str = "zh") -> str:
    """Localised sheet name for a table key (``areas``, ``streets`` ...); else the key."""
    i = _check_lang(lang)
    pair = SHEET_NAMES.get(key)
    return pair[i] if pair else key


def label_frame(df: pd.DataFrame, lang: str = "zh", circle_minutes: float = 15,
                values: bool = True) -> pd.DataFrame:
    """Return a copy of ``df`` with display column labels (and value labels).

    Parameters
    ----------
    df : DataFrame
        A geoplan table (areas, streets, demand, facilities, issues ...).
    lang : {"zh", "en"}
        Label language.
    circle_minutes : float
        Walking time of the service circle.
    values : bool
        Also translate coded values (area kind, facility type, problem, action, the
        ``pop_estimated`` flag). Default True.

    Returns
    -------
    DataFrame
        A relabelled copy; unknown columns keep their names. If two columns would get
        the same label, the later one keeps its key in brackets to stay unique.
    """
    _check_lang(lang)
    out = df.copy()
    if values:
        for col in out.columns:
            if col in _VALUE_COLUMNS or col in _NOTE_COLUMNS or col == "pop_estimated":
                if isinstance(out[col], pd.DataFrame):  # duplicated column names
                    continue
                out[col] = out[col].map(lambda v, c=col: value_label(c, v, lang)).astype(object)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for col in out.columns:
        label = column_label(str(col), lang, circle_minutes)
        if label in used:
            label = f"{label} [{col}]"
        used.add(label)
        mapping[col] = label
    return out.rename(columns=mapping)
