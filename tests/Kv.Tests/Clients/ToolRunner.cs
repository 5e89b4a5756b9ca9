using System.Diagnostics;
using System.Text;

namespace Kv.Tests.Clients;

/// <summary>Runs a command-line tool (redis-cli, redis-benchmark) with optional stdin, capturing its output.</summary>
internal static class ToolRunner
{
    /// <summary>Runs <paramref name="exe"/> and returns (exit code, stdout, stderr); kills it after the timeout.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string exe, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            var bytes = Encoding.Latin1.GetBytes(stdin);
            await p.StandardInput.BaseStream.WriteAsync(bytes);
        }
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{exe} {string.Join(' ', args)} did not finish in time; stdout so far: {await outTask}");
        }
        return (p.ExitCode, await outTask, await errTask);
    }
}
