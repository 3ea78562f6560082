import { leaderboard, leaderboardCsv, renderLeaderboard, rungsCsv, type LeaderboardRecord } from "../../cli/sweep/leaderboard";

const METRIC = "metrics/mAP50-95(B)";

function record(extra: Partial<LeaderboardRecord>): LeaderboardRecord {
  return { phase: "training", epoch: 3, epochs: 27, metrics: {}, attempts: 1, interruptions: 0, estimatedCostUsd: 0.5, error: null, sweep: null, ...extra };
}

const trials = [
  { id: "t01", params: { model: "yolov8n.pt", imgsz: 416 }, runId: "yolov8n-coco-0000000001", estimatedUsd: 2 },
  { id: "t02", params: { model: "yolov8s.pt", imgsz: 640 }, runId: "yolov8s-coco-0000000002", estimatedUsd: 5 },
  { id: "t03", params: { model: "yolov8n.pt", imgsz: 640 }, runId: "yolov8n-coco-0000000003", estimatedUsd: 3 },
  { id: "t04", params: { model: "yolov8s.pt", imgsz: 416 }, runId: "yolov8s-coco-0000000004", estimatedUsd: 4 },
];

const records = new Map<string, LeaderboardRecord | null>([
  ["yolov8n-coco-0000000001", record({ phase: "completed", epoch: 27, metrics: { [METRIC]: 0.41 }, estimatedCostUsd: 1.8, sweep: { rungs: [{ rung: 0, epoch: 3, value: 0.2, promote: true, cutoff: null }] } })],
  ["yolov8s-coco-0000000002", record({ phase: "stopped-early", epoch: 3, metrics: { [METRIC]: 0.12 }, estimatedCostUsd: 0.6, sweep: { rungs: [{ rung: 0, epoch: 3, value: 0.12, promote: false, cutoff: 0.2 }] } })],
  ["yolov8n-coco-0000000003", record({ phase: "interrupted", epoch: 9, metrics: { [METRIC]: 0.33 }, attempts: 2, interruptions: 1, estimatedCostUsd: 0.9 })],
]);

describe("the sweep leaderboard", () => {
  const board = leaderboard({ metric: METRIC, direction: "maximize", trials, records });

  it("ranks trials with a metric best first, then the ones without, in the sweep's order", () => {
    expect(board.rows.map((r) => [r.rank, r.trialId, r.outcome])).toEqual([
      [1, "t01", "completed"],
      [2, "t03", "running"],
      [3, "t02", "stopped-early"],
      [null, "t04", "pending"],
    ]);
  });

  it("says why each trial stopped or what it is doing", () => {
    const why = Object.fromEntries(board.rows.map((r) => [r.trialId, r.why]));
    expect(why).toEqual({
      t01: "ran to its end",
      t02: "stopped at rung 0 (epoch 3): 0.1200 < 0.2000",
      t03: "spot interruption: resuming on a new node",
      t04: "waiting for a slot or the budget",
    });
  });

  it("totals the spend and what running every trial to its end would have cost, and names the best completed trial", () => {
    expect(board.spentUsd).toBeCloseTo(3.3);
    // t01 its own cost; t02 and t03 scaled to all 27 epochs; t04 the plan's estimate.
    expect(board.allToEndUsd).toBeCloseTo(1.8 + (0.6 * 27) / 3 + (0.9 * 27) / 9 + 4);
    expect(board.winner?.trialId).toBe("t01");
    expect(board.counts).toEqual({ pending: 1, running: 1, completed: 1, "stopped-early": 1, failed: 0, unreadable: 0 });
  });

  it("shows a trial's best value: a running trial's best rung beats a worse latest epoch, a completed trial's final value stands", () => {
    const dipped = new Map<string, LeaderboardRecord | null>([
      ["yolov8n-coco-0000000001", record({ phase: "completed", epoch: 27, metrics: { [METRIC]: 0.41 }, sweep: { rungs: [{ rung: 0, epoch: 3, value: 0.45, promote: true, cutoff: null }] } })],
      ["yolov8s-coco-0000000002", record({ phase: "training", epoch: 11, metrics: { [METRIC]: 0.3 }, sweep: { rungs: [{ rung: 0, epoch: 3, value: 0.2, promote: true, cutoff: null }, { rung: 1, epoch: 9, value: 0.38, promote: true, cutoff: null }] } })],
      ["yolov8n-coco-0000000003", record({ phase: "training", epoch: 4, metrics: {}, sweep: { rungs: [{ rung: 0, epoch: 3, value: -Number.MAX_VALUE, promote: true, cutoff: null }] } })],
    ]);
    const rows = Object.fromEntries(leaderboard({ metric: METRIC, direction: "maximize", trials, records: dipped }).rows.map((r) => [r.trialId, r.metric]));
    // The winner is chosen by the final value, so that is the one shown; a missing rung metric is no value.
    expect(rows).toEqual({ t01: 0.41, t02: 0.38, t03: null, t04: null });
  });

  it("ranks a minimised metric lowest first", () => {
    const losses = leaderboard({ metric: METRIC, direction: "minimize", trials, records });
    expect(losses.rows.filter((r) => r.rank !== null).map((r) => r.trialId)).toEqual(["t02", "t03", "t01"]);
  });

  it("renders one line per trial and the totals", () => {
    const text = renderLeaderboard(board, METRIC);
    expect(text.split("\n")[0]).toMatch(/^#\s+trial\s+model\s+imgsz\s+phase\s+epochs\s+metrics\/mAP50-95\(B\)\s+rung\s+attempts\s+interr\.\s+\$\s+why$/);
    expect(text).toMatch(/^1\s+t01\s+yolov8n\.pt\s+416\s+completed\s+27\/27\s+0\.4100\s+0\s+1\s+0\s+1\.80\s+ran to its end$/m);
    expect(text).toContain("Spent $3.30 (1 pending, 1 running, 1 completed, 1 stopped-early)");
    expect(text).toContain("Winner: t01 (yolov8n-coco-0000000001), metrics/mAP50-95(B) 0.4100");
  });

  it("exports a CSV with the parameters as columns, quoting what needs it", () => {
    const csv = leaderboardCsv(board).split("\r\n");
    expect(csv[0]).toBe("rank,trial,runId,model,imgsz,phase,outcome,epoch,epochs,metric,rung,attempts,interruptions,spentUsd,why");
    expect(csv[1]).toBe("1,t01,yolov8n-coco-0000000001,yolov8n.pt,416,completed,completed,27,27,0.41,0,1,0,1.8000,ran to its end");
    expect(csv[3]).toBe('3,t02,yolov8s-coco-0000000002,yolov8s.pt,640,stopped-early,stopped-early,3,27,0.12,0,1,0,0.6000,stopped at rung 0 (epoch 3): 0.1200 < 0.2000');
    expect(csv[4]).toBe(",t04,yolov8s-coco-0000000004,yolov8s.pt,416,pending,pending,0,0,,,0,0,0.0000,waiting for a slot or the budget");
    expect(csv[5]).toBe("");
    const failed = leaderboard({
      metric: METRIC,
      direction: "maximize",
      trials: [trials[0]!],
      records: new Map([[trials[0]!.runId, record({ phase: "failed", error: 'CUDA out of memory, "batch" too big' })]]),
    });
    expect(leaderboardCsv(failed).split("\r\n")[1]).toMatch(/,"failed: CUDA out of memory, ""batch"" too big"$/);
  });

  it("has no winner and no to-the-end total while a trial has neither a record nor an estimate", () => {
    const partial = leaderboard({ metric: METRIC, direction: "maximize", trials: [{ id: "t01", params: {}, runId: "r-1" }], records: new Map() });
    expect(partial.winner).toBeUndefined();
    expect(partial.allToEndUsd).toBeUndefined();
    expect(renderLeaderboard(partial, METRIC)).toContain("Winner: none completed yet");
  });

  it("says what a trial without a record waits for, from the keeper's state, its start, or its unreadable record", () => {
    const input = { metric: METRIC, direction: "maximize" as const, trials, records: new Map<string, LeaderboardRecord | null>() };
    const why = (extra: Partial<Parameters<typeof leaderboard>[0]>): Record<string, [string, string, string]> =>
      Object.fromEntries(leaderboard({ ...input, ...extra }).rows.map((r) => [r.trialId, [r.phase, r.outcome, r.why]]));
    const waiting = new Map([["t01", "max-parallel"], ["t02", "budget"]] as const);
    expect(why({ waiting, started: new Map([["t03", "2026-03-01T11:00:00.000Z"]]), unreadable: new Map([[trials[3]!.runId, "not JSON"]]) })).toEqual({
      t01: ["pending", "pending", "waiting for a free slot (maxParallel)"],
      t02: ["pending", "pending", "waiting for the budget: its cost would pass budgetUsd"],
      t03: ["pending", "running", "started at 2026-03-01T11:00:00.000Z; its node has not written a run record yet"],
      t04: ["unreadable", "unreadable", "run record unreadable: not JSON"],
    });
    const ended = why({ waiting, ended: true });
    expect(ended.t02![2]).toBe("never started: the budget ran out (spent + committed + its cost would pass budgetUsd)");
    expect(ended.t03![2]).toBe("never started: the sweep ended");
  });

  it("says > for a minimised metric's stop", () => {
    const losses = leaderboard({ metric: METRIC, direction: "minimize", trials, records });
    expect(losses.rows.find((r) => r.trialId === "t02")!.why).toBe("stopped at rung 0 (epoch 3): 0.1200 > 0.2000");
  });

  it("exports the metric against epochs: a row per rung, the latest point past the last rung, a missing value as a gap", () => {
    const curves = leaderboard({
      metric: METRIC,
      direction: "maximize",
      trials: trials.slice(0, 2),
      records: new Map([
        [trials[0]!.runId, record({ epoch: 10, metrics: { [METRIC]: 0.3 }, sweep: { rungs: [{ rung: 0, epoch: 3, value: 0.2, promote: true, cutoff: null }, { rung: 1, epoch: 9, value: 0.28, promote: true, cutoff: 0.25 }] } })],
        [trials[1]!.runId, record({ phase: "stopped-early", epoch: 3, metrics: {}, sweep: { rungs: [{ rung: 0, epoch: 3, value: -Number.MAX_VALUE, promote: false, cutoff: 0.2 }] } })],
      ]),
    });
    expect(rungsCsv(curves).split("\r\n")).toEqual([
      "trial,runId,model,imgsz,point,rung,epoch,value,promoted,cutoff,outcome",
      "t01,yolov8n-coco-0000000001,yolov8n.pt,416,rung,0,3,0.2,true,,running",
      "t01,yolov8n-coco-0000000001,yolov8n.pt,416,rung,1,9,0.28,true,0.25,running",
      "t01,yolov8n-coco-0000000001,yolov8n.pt,416,latest,,10,0.3,,,running",
      "t02,yolov8s-coco-0000000002,yolov8s.pt,640,rung,0,3,,false,0.2,stopped-early",
      "",
    ]);
  });
});
