"""The command line: help says what each command does with an example; errors are one line."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conversion import cli

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conversion", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_main_help_lists_every_command_with_an_example():
    result = _run("--help")
    assert result.returncode == 0
    for module_name in cli.COMMANDS:
        assert importlib.import_module(module_name).NAME in result.stdout
    assert "Example: python -m conversion " in result.stdout


def test_no_command_prints_the_help_and_succeeds():
    result = _run()
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == _run("--help").stdout


def test_version_is_the_installed_distributions():
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"genimage-cl {importlib.metadata.version('genimage-cl')}"


def test_the_genimage_cl_console_script_runs_the_command_line():
    """pyproject.toml's [project.scripts], as the installed distribution declares it."""
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="genimage-cl")
    assert script.value == "conversion.__main__:main"
    assert script.load() is cli.main


@pytest.mark.parametrize("command", ["publish", "export-imagefolder"])
def test_help_names_the_data_dir_and_out_by_their_metavars(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    text = capsys.readouterr().out
    assert "--data-dir DATA_DIR" in text and "--out OUT" in text
    assert not re.search(r"\b(DIR|FOLDER)\b", text)


def test_sample_release_says_it_writes_the_releases_6_of_the_8_generators():
    from conversion.commands import sample_release
    from conversion.contract import tables

    assert (len(tables.task_order()), len(tables.generators())) == (6, 8)
    assert "the release's 6 of the 8 generators" in sample_release.HELP
    assert "six generators of GenImage's eight" in sample_release.__doc__


@pytest.mark.parametrize("module_name", cli.COMMANDS)
def test_each_command_help_says_what_it_does_with_an_example(module_name, capsys):
    module = importlib.import_module(module_name)
    with pytest.raises(SystemExit) as exit_:
        cli.main([module.NAME, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert module.__doc__.strip().splitlines()[0] in text
    assert "Example" in text and f"python -m conversion {module.NAME}" in text
    main_help = " ".join(cli.build_parser().format_help().split())
    assert " ".join(module.HELP.split()[:4]) in main_help


def test_an_error_is_one_line_and_debug_shows_the_traceback(tmp_path):
    missing = tmp_path / "no-such-tree"
    args = ("export-imagefolder", "--data-dir", str(missing), "--config", "sdv14", "--out", str(tmp_path / "out"))
    result = _run(*args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(missing) in lines[0]
    debug = _run("--debug", *args)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr and str(missing) in debug.stderr


@pytest.mark.parametrize("args, message", [
    (("export-imagefolder", "--data-dir", ".", "--config", "sdv41", "--out", "x"),
     "argument --config: unknown config 'sdv41'; closest: sdv15, sdv14; configs: adm "),
    (("demo", "--config", "stable_diffusion_v_1_4"),
     "argument --config: unknown config 'stable_diffusion_v_1_4'; that is GenImage's name for generator 'sdv14': "
     "use 'sdv14'; configs: "),
    (("verify-downloads", ".", "--generators", "imagenet_ai_0419_vqdm"),
     "argument --generators: 'imagenet_ai_0419_vqdm' is not a generator key; that is GenImage's name for generator "
     "'vqdm': use 'vqdm'; generators: adm, "),
    (("demo", "--num-proc", "0"), "argument --num-proc: must be a positive integer, got '0'"),
    (("publish", "--data-dir", ".", "--part", "sdv41"),
     "argument --part: unknown config 'sdv41'; closest: sdv15, sdv14"),
    (("publish", "--data-dir", ".", "--image-size", "0"),
     "argument --image-size: must be a positive integer or 'original', got '0'"),
    (("publish", "--data-dir", ".", "--check", "fast"), "argument --check: invalid choice: 'fast'"),
    (("publish", "--data-dir", ".", "--list-jobs", "--job-index", "1"),
     "argument --job-index: not allowed with argument --list-jobs"),
    (("publish", "--data-dir", ".", "--out", "x", "--part", "sdv14-task3", "--job-index", "1"),
     "argument --job-index: not allowed with argument --part"),
    (("publish", "--data-dir", "no-such-tree", "--out", "x", "--repo-id", "genimage-cl"),
     "argument --repo-id: must look like USER/NAME (e.g. me/genimage-cl), got 'genimage-cl'"),
])
def test_bad_arguments_are_reported_by_argparse(args, message):
    result = _run(*args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(message) or message in result.stderr.splitlines()[-1]


def test_config_names_are_case_insensitive():
    args = cli.build_parser().parse_args(["publish", "--data-dir", ".", "--part", "SDV14-Task3", "--part", "Disjoint"])
    assert args.part == ["sdv14-task3", "disjoint"]


def _parse_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


PUBLISH = ["publish", "--data-dir", "tree", "--out", "copy"]


@pytest.mark.parametrize("repo_id, message", [
    ("genimage-cl", "must look like USER/NAME (e.g. me/genimage-cl), got 'genimage-cl'"),
    ("me/", "must look like USER/NAME (e.g. me/genimage-cl), got 'me/'"),
    ("datasets/me/genimage-cl", "must look like USER/NAME (e.g. me/genimage-cl), got 'datasets/me/genimage-cl'"),
    ("me/genimage--cl", "not a valid Hub repository id: Cannot have -- or .. in repo_id: 'me/genimage--cl'."),
    ("me/genimage cl", "not a valid Hub repository id: Repo id must use alphanumeric chars"),
    ("me/genimage-cl.git", "not a valid Hub repository id: Repo_id cannot end by '.git'"),
    ("me/" + "x" * 97, "not a valid Hub repository id: Repo id must use alphanumeric chars"),
])
def test_a_bad_repo_id_fails_in_argparse_naming_the_option(repo_id, message, capsys):
    line = _parse_error([*PUBLISH, "--repo-id", repo_id], capsys)
    assert line.startswith("python -m conversion publish: error: argument --repo-id: " + message), line


def test_a_valid_repo_id_is_kept_as_given_and_the_upload_checks_it_the_same_way():
    from conversion.hub_copy import repo_ids, upload

    for repo_id in ("me/genimage-cl", "My-Org.2/GenImage_CL.v2"):
        assert cli.build_parser().parse_args([*PUBLISH, "--repo-id", repo_id]).repo_id == repo_id
        assert repo_ids.check(repo_id) == repo_id
    with pytest.raises(upload.UploadError, match=r"^--repo-id not a valid Hub repository id: Cannot have -- or \.\."):
        upload.connect("me/genimage..cl", token="hf_x")


def _list_options():
    parser = cli.build_parser()
    for action in parser._subparsers._group_actions:
        for name, sub in action.choices.items():
            for option in sub._actions:
                yield name, option


def test_every_list_option_is_comma_separated():
    """One convention: KEY[,KEY...] in one value, repeatable; no option takes several values (nargs)."""
    from conversion.commands import options

    lists = {}
    for command, option in _list_options():
        assert option.nargs in (None, 0), f"{command} {option.option_strings}: takes {option.nargs} values"
        if isinstance(option, options.KeyList):
            assert re.fullmatch(r"(\S+)\[,\1\.\.\.\]", option.metavar), (command, option.metavar)
            lists.setdefault(command, []).append(option.option_strings[0])
    assert lists == {"verify-downloads": ["--generators"], "publish": ["--part", "--corruptions"]}


@pytest.mark.parametrize("argv, attribute, value", [
    (["verify-downloads", "zips", "--generators", " SDV14 ,adm,", "--generators", "adm,biggan"], "generators",
     ["sdv14", "adm", "biggan"]),
    (["verify-downloads", "zips", "--generators", "glide,wukong"], "generators", ["glide", "wukong"]),
    ([*PUBLISH, "--part", "sdv14-task0,SDV14-Task1", "--part", "sdv14-task0"], "part", ["sdv14-task0", "sdv14-task1"]),
    ([*PUBLISH, "--corruptions", "rotate,saturate"], "corruptions", ["rotate", "saturate"]),
    ([*PUBLISH, "--corruptions", "all"], "corruptions", ["gaussian_noise", "gaussian_blur", "saturate", "rotate"]),
    (PUBLISH, "corruptions", ()),
    (["verify-downloads", "zips"], "generators", None),
])
def test_list_options_parse_comma_separated_keys(argv, attribute, value):
    assert getattr(cli.build_parser().parse_args(argv), attribute) == value


@pytest.mark.parametrize("argv, message", [
    (["verify-downloads", "zips", "--generators", "adm", "sdv14"], "unrecognized arguments: sdv14"),
    (["verify-downloads", "zips", "--generators", "adm,sdv41"],
     "argument --generators: 'sdv41' is not a generator key"),
    (["verify-downloads", "zips", "--generators", " , "],
     "argument --generators: give generator keys, comma-separated (KEY[,KEY...]), got ' , '"),
    ([*PUBLISH, "--corruptions", "rotate,fog"], "argument --corruptions: unknown corruption(s) fog"),
    ([*PUBLISH, "--part", "sdv14-task0,sdv41"], "argument --part: unknown config 'sdv41'"),
])
def test_a_bad_key_in_a_list_fails_naming_the_option(argv, message, capsys):
    assert message in _parse_error(argv, capsys)


def test_debug_is_accepted_after_the_command(tmp_path):
    result = _run("report", str(tmp_path / "missing"), "--debug")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr and "does not exist" in result.stderr


def test_help_loads_no_heavy_module():
    """Help is quick because datasets, torch and huggingface_hub are imported only by the commands' run."""
    code = ("import sys; from conversion import cli; cli.build_parser(); "
            "print(sorted(m for m in ('datasets', 'torch', 'huggingface_hub', 'numpy', 'tqdm') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "[]", result.stderr


def test_help_texts_cite_no_internal_documents():
    parser = cli.build_parser()
    texts = [parser.format_help()] + [sub.format_help() for action in parser._subparsers._group_actions
                                      for sub in action.choices.values()]
    for text in texts:
        assert ".md section" not in text and "the mirror" not in text  # docs are cited as docs/<page>.md#<anchor>


def test_dictionaries_without_the_reference_files_says_it_is_a_maintainer_command(tmp_path):
    result = _run("dictionaries", "--reference", str(tmp_path / "reference"), "--generators", str(tmp_path / "tree.md"),
                  "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "maintainer command" in lines[0] and str(tmp_path / "reference") in lines[0]


def test_report_names_a_missing_path_or_a_file_that_is_not_a_report(tmp_path):
    result = _run("report", str(tmp_path / "missing"))
    assert result.returncode == 1 and result.stderr.strip() == (
        f"error: {tmp_path / 'missing'} does not exist: give a built config's folder, a report file, a publish "
        f"folder or a cache folder")
    (tmp_path / "notes.txt").write_text("not json")
    result = _run("report", str(tmp_path / "notes.txt"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1
    assert lines[0].startswith(f"error: {tmp_path / 'notes.txt'} is not a build report: not JSON")
    (tmp_path / "empty").mkdir()
    result = _run("report", str(tmp_path / "empty"))
    assert result.returncode == 1 and result.stderr.strip() == (
        f"error: no build_report.json (of a built config) nor .publish/reports/ (of a publish folder) "
        f"under {tmp_path / 'empty'}")


def test_report_reads_a_publish_folder(sample_root, tmp_path, capsys):
    from conversion.builder import build_report
    from conversion.hub_copy import publish
    from genimage_cl import GenImageCL

    builder = GenImageCL(config_name="sdv14-task3", data_dir=str(sample_root), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    reports = tmp_path / "genimage-cl" / publish.STATE_DIR / "reports"
    reports.mkdir(parents=True)
    (reports / "sdv14-task3.json").write_text((Path(builder.cache_dir) / build_report.REPORT_FILE).read_text())
    (reports / "sdv14-task4.json").write_text((Path(builder.cache_dir) / build_report.REPORT_FILE).read_text())
    with pytest.raises(SystemExit) as exit_:
        cli.main(["report", str(tmp_path / "genimage-cl")])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"# {reports / 'sdv14-task3.json'}" in out and "genimage-cl sdv14-task3: " in out
    assert out.count("\nimages: 64x64 PNG (the release's pixels)\n") == 2
    s = build_report.sums(build_report.load(reports / "sdv14-task3.json"))
    assert out.rstrip().splitlines()[-1] == (
        f"grand total of 2 reports: {2 * s['found']} files found, {2 * s['kept']} kept, {2 * s['skipped']} skipped, "
        f"{2 * s['excluded']} excluded by class, 0 kept that the release dropped") and s["kept"]


def test_demo_next_steps_quote_the_report_path_and_name_a_readme_section(tmp_path):
    from conversion.commands import demo

    cache = tmp_path / "with space" / "cache"
    lines = demo.next_steps(str(cache)).strip().splitlines()
    assert shlex.split(lines[0].split("python -m conversion ", 1)[1], comments=True) == ["report", str(cache)]
    assert f"## {demo.README_NEXT}\n" in (REPO / "README.md").read_text()
    assert f'section "{demo.README_NEXT}"' in lines[1]


def test_demo_progress_bars_have_totals_hide_with_no_progress_and_cache_is_said(tmp_path):
    quiet = _run("demo", "--config", "sdv14-task0", "--workdir", str(tmp_path / "a"), "--no-progress")
    assert quiet.returncode == 0 and "Generating" not in quiet.stderr and "%|" not in quiet.stderr
    assert "built in " in quiet.stdout
    again = _run("demo", "--config", "sdv14-task0", "--workdir", str(tmp_path / "a"))
    assert again.returncode == 0 and "from cache: built before into " in again.stdout and "built in" not in again.stdout
    shown = _run("demo", "--config", "sdv14-task1", "--workdir", str(tmp_path / "b"))
    assert shown.returncode == 0
    assert re.search(r"Generating train split: 100%\|\S+\| (\d+)/\1 \[", shown.stderr), shown.stderr
