import { createCanvas, GlobalFonts } from "@napi-rs/canvas";
import type { SKRSContext2D } from "@napi-rs/canvas";
import {
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Title,
} from "chart.js";
import type { ChartConfiguration, ChartDataset, Plugin } from "chart.js";
import type { MetricsSnapshot, Rollout } from "../rollout/types.ts";
import { rolloutChartData } from "./chart-data.ts";
import type { ChartPolicy, ChartSeries, RolloutChartData } from "./chart-data.ts";

export type RolloutChartInput = {
  snapshots: MetricsSnapshot[];
  policy?: ChartPolicy;
  /** Pixels; default 800. */
  width?: number;
  /** Pixels; default 400. */
  height?: number;
  title?: string;
};

// Registration is idempotent; only what the rollout chart draws.
Chart.register(CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Title);

const COLORS = {
  weight: "#7048e8",
  canary: "#e8590c",
  stable: "#1c7ed6",
  threshold: "#c92a2a",
  text: "#212529",
  grid: "#e9ecef",
  background: "#ffffff",
} as const;

/** Fonts tried in order: an explicit path, then the Debian/Ubuntu `fonts-dejavu-core` file, then system families. */
const FONT_FILES = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/TTF/DejaVuSans.ttf",
];
const FONT_ALIAS = "canarybot-chart-sans";

let resolvedFont: string | undefined;

/**
 * The font family charts use. @napi-rs/canvas loads system fonts itself; DejaVu Sans (Debian package
 * `fonts-dejavu-core`) is registered under an alias so the choice does not depend on fontconfig. With no font at
 * all the lines still render; only the text is missing.
 */
export function chartFontFamily(env: NodeJS.ProcessEnv = process.env): string {
  if (resolvedFont !== undefined) return resolvedFont;
  const explicit = env.CANARYBOT_CHART_FONT;
  for (const path of explicit === undefined || explicit === "" ? FONT_FILES : [explicit, ...FONT_FILES]) {
    try {
      if (GlobalFonts.registerFromPath(path, FONT_ALIAS) !== null) {
        resolvedFont = FONT_ALIAS;
        return resolvedFont;
      }
    } catch {
      // Not there or unreadable: try the next one.
    }
  }
  const families = GlobalFonts.families.map((f) => f.family);
  resolvedFont =
    ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica"].find((f) => families.includes(f)) ??
    families[0] ??
    "sans-serif";
  return resolvedFont;
}

/** The drawing calls the plugins make; chart.js types `chart.ctx` as the DOM context, which Node does not declare. */
type Drawing = Pick<
  SKRSContext2D,
  | "save"
  | "restore"
  | "fillRect"
  | "fillText"
  | "fillStyle"
  | "font"
  | "textAlign"
  | "textBaseline"
  | "globalCompositeOperation"
>;

function drawing(chart: Chart<"line">): Drawing {
  return (chart as unknown as { ctx: Drawing }).ctx;
}

const whiteBackground: Plugin<"line"> = {
  id: "canarybot-background",
  beforeDraw(chart) {
    const { width, height } = chart;
    const ctx = drawing(chart);
    ctx.save();
    ctx.globalCompositeOperation = "destination-over";
    ctx.fillStyle = COLORS.background;
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

function noDataMessage(font: string): Plugin<"line"> {
  return {
    id: "canarybot-no-data",
    afterDraw(chart) {
      const { chartArea } = chart;
      const ctx = drawing(chart);
      ctx.save();
      ctx.fillStyle = "#868e96";
      ctx.font = `14px "${font}"`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(
        "no metrics yet",
        (chartArea.left + chartArea.right) / 2,
        (chartArea.top + chartArea.bottom) / 2,
      );
      ctx.restore();
    },
  };
}

/** Writes each threshold's value at the right end of its dashed line. */
function thresholdLabels(data: RolloutChartData, font: string): Plugin<"line"> {
  return {
    id: "canarybot-threshold-labels",
    afterDatasetsDraw(chart) {
      if (data.thresholds === undefined) return;
      const { chartArea, scales } = chart;
      const ctx = drawing(chart);
      const marks = [
        {
          axis: "success",
          value: data.thresholds.minSuccessRatePercent,
          text: `min ${data.thresholds.minSuccessRatePercent}%`,
        },
        { axis: "latency", value: data.thresholds.maxP99Ms, text: `max ${data.thresholds.maxP99Ms} ms` },
      ];
      ctx.save();
      ctx.fillStyle = COLORS.threshold;
      ctx.font = `10px "${font}"`;
      ctx.textAlign = "right";
      ctx.textBaseline = "bottom";
      for (const mark of marks) {
        const scale = scales[mark.axis];
        if (scale === undefined) continue;
        ctx.fillText(mark.text, chartArea.right - 2, scale.getPixelForValue(mark.value) - 2);
      }
      ctx.restore();
    },
  };
}

type LineDataset = ChartDataset<"line", ChartSeries>;

/** Up to this many snapshots every point gets a dot; beyond it only points with no neighbour (between gaps) do. */
const DOTTED_POINTS = 30;

/** Dot radius per point: a value with no neighbour on either side would be invisible as a line. */
function pointRadius(data: ChartSeries): number[] {
  return data.map((value, i) => {
    if (value === null) return 0;
    if (data.length <= DOTTED_POINTS) return 2;
    const isolated = (data[i - 1] ?? null) === null && (data[i + 1] ?? null) === null;
    return isolated ? 2 : 0;
  });
}

function series(
  label: string,
  data: ChartSeries,
  yAxisID: string,
  color: string,
  extra: Partial<LineDataset> = {},
): LineDataset {
  return {
    label,
    data,
    yAxisID,
    borderColor: color,
    backgroundColor: color,
    borderWidth: 2,
    pointRadius: pointRadius(data),
    pointHoverRadius: 0,
    spanGaps: false,
    tension: 0,
    ...extra,
  };
}

function threshold(label: string, value: number, count: number, yAxisID: string): LineDataset {
  return series(label, Array<number>(count).fill(value), yAxisID, COLORS.threshold, {
    borderDash: [6, 4],
    borderWidth: 1.5,
    pointRadius: 0,
  });
}

/** The chart.js configuration: three stacked panels sharing one UTC time axis. Pure. */
export function rolloutChartConfig(
  data: RolloutChartData,
  options: { title: string; font: string },
): ChartConfiguration<"line", ChartSeries, string> {
  const count = data.labels.length;
  // The panels name what they show, so the legend names only the lines: weight, canary, stable, threshold.
  const datasets: LineDataset[] = [
    series("canary weight", data.weight, "weight", COLORS.weight, { stepped: "before" }),
    series("canary", data.successRate.canary, "success", COLORS.canary),
    series("stable", data.successRate.stable, "success", COLORS.stable),
    series("canary", data.p99Ms.canary, "latency", COLORS.canary),
    series("stable", data.p99Ms.stable, "latency", COLORS.stable),
  ];
  if (data.thresholds !== undefined && count > 0) {
    datasets.push(
      threshold("threshold", data.thresholds.minSuccessRatePercent, count, "success"),
      threshold("threshold", data.thresholds.maxP99Ms, count, "latency"),
    );
  }
  const font = { family: options.font, size: 11 };
  const panel = (title: string, min: number, max: number, weight = 1) => ({
    type: "linear" as const,
    position: "left" as const,
    stack: "panels",
    stackWeight: weight,
    offset: true,
    min,
    max,
    title: { display: true, text: title, color: COLORS.text, font },
    ticks: { color: COLORS.text, font, maxTicksLimit: 5 },
    grid: { color: COLORS.grid },
    border: { color: "#adb5bd" },
  });

  return {
    type: "line",
    data: { labels: data.labels, datasets },
    options: {
      animation: false,
      responsive: false,
      maintainAspectRatio: false,
      devicePixelRatio: 1,
      events: [],
      layout: { padding: 8 },
      plugins: {
        title: { display: true, text: options.title, color: COLORS.text, font: { ...font, size: 14 } },
        legend: {
          position: "top",
          labels: {
            color: COLORS.text,
            font,
            boxWidth: 18,
            boxHeight: 2,
            filter: (item, legend) =>
              legend.datasets.findIndex((d) => d.label === item.text) === item.datasetIndex,
          },
        },
        tooltip: { enabled: false },
      },
      scales: {
        x: {
          type: "category",
          title: { display: true, text: "time (UTC)", color: COLORS.text, font },
          ticks: { color: COLORS.text, font, maxRotation: 0, autoSkip: true, autoSkipPadding: 12 },
          grid: { color: COLORS.grid },
        },
        // Stacked axes are laid out bottom to top in the order they are listed.
        latency: panel("p99 ms", data.ranges.p99Ms.min, data.ranges.p99Ms.max),
        success: panel("success %", data.ranges.successRate.min, data.ranges.successRate.max),
        weight: panel("canary %", 0, 100),
      },
    },
    plugins:
      count === 0
        ? [whiteBackground, noDataMessage(options.font)]
        : [whiteBackground, thresholdLabels(data, options.font)],
  };
}

/** A rollout's chart, as the command line writes it and Slack posts it: titled with the rollout and its subsets. */
export function renderChartOf(rollout: Rollout): Promise<Buffer> {
  return renderRolloutChart({
    snapshots: rollout.snapshots,
    ...(rollout.plan.analysis ? { policy: rollout.plan.analysis } : {}),
    title: `${rollout.id} ${rollout.target.stableSubset} → ${rollout.target.canarySubset}`,
  });
}

/**
 * Renders a rollout's snapshots as a PNG: canary weight (step line), success rate and p99 latency of canary vs
 * stable, with the policy thresholds dashed. Missing values are gaps. Times are UTC.
 */
export async function renderRolloutChart(input: RolloutChartInput): Promise<Buffer> {
  const width = input.width ?? 800;
  const height = input.height ?? 400;
  const canvas = createCanvas(width, height);
  const font = chartFontFamily();
  const config = rolloutChartConfig(rolloutChartData(input.snapshots, input.policy), {
    title: input.title ?? "canary rollout",
    font,
  });
  // chart.js draws on any context with the DOM 2d API; @napi-rs/canvas implements it.
  const chart = new Chart(canvas.getContext("2d"), config);
  try {
    return await canvas.encode("png");
  } finally {
    chart.destroy();
  }
}
