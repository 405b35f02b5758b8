from click.testing import CliRunner

from dpbench import __version__
from dpbench.cli import cli


def test_version_and_help():
    runner = CliRunner()
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("datasets", "models", "sample"):
        assert command in result.output
