import * as fs from "fs";
import * as path from "path";
import { dockerfileCopySources } from "../../../components/image/dockerfileSources";

describe("dockerfileCopySources", () => {
  it("lists what the project's Dockerfile copies from the context, not what it copies between stages", () => {
    const text = fs.readFileSync(path.resolve(__dirname, "..", "..", "..", "docker", "Dockerfile"), "utf8");
    expect(dockerfileCopySources(text)).toEqual([
      "docker/agent/package.json",
      "docker/agent/package-lock.json",
      "tsconfig.json",
      "runspec/",
      "ota/",
      "agent/",
      "docker/requirements.txt",
      "docker/train.py",
      "docker/trainer/",
    ]);
  });

  it.each([
    ["flags before the sources", "COPY --chown=1000:1000 --chmod=0644 a.txt b/ /dst/", ["a.txt", "b/"]],
    ["the JSON form", 'COPY ["with space.txt", "./other.txt", "/dst/"]', ["with space.txt", "other.txt"]],
    ["flags before the JSON form", 'COPY --chown=1000 ["a.txt", "/dst/"]', ["a.txt"]],
    ["a continuation over lines", "COPY a.txt \\\n  # a comment inside\n  b.txt \\\n  /dst/", ["a.txt", "b.txt"]],
    ["lower-case keywords and ADD", "add local.tar /x/\ncopy c.txt /y", ["local.tar", "c.txt"]],
    ["another stage's files", "COPY --from=build /out/app /app", []],
    ["URLs and wildcards", "ADD https://example.com/x.tar.gz /x\nCOPY *.py /app/", []],
    ["instructions that copy nothing", "FROM python:3.11\nRUN cp a b\n# COPY commented.txt /x", []],
  ])("reads %s", (_label, text, sources) => {
    expect(dockerfileCopySources(text)).toEqual(sources);
  });
});
