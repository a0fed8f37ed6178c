# scripts/bench.sh: what the figures run against, all under $work (sourced).

# PostgreSQL with the sandbox's schema and seed, a borg repository with tonight's
# archive, the sandbox terraform tree started, the Nomad double with 200 ms per request
# running the six services, the delay proxy, the slow tofu and borg, and csi.hcl with
# two environments: `bench` (direct) and `slow` (every source 200 ms away).
setup_all() {
    say "PostgreSQL on 127.0.0.1:$pg_port"
    pg_start "$work/pg" seed
    repo="$work/repo"
    borg init --encryption=none "$repo" >/dev/null
    nightly "$repo" "pgdump_$(date -u +%Y-%m-%d)T04:00:00"
    setup_terraform
    setup_nomad
    setup_slow_sources
    write_config
    say "submitting the six services to the double"
    "${csi_cmd[@]}" env doctor bench --fix --yes \
        >"$work/doctor.out" 2>&1 || { cat "$work/doctor.out" >&2; die "csi env doctor --fix failed"; }
}

setup_terraform() {
    say "terraform tree (a copy of terraform/sandbox, started, with $(basename "$tofu"))"
    tf_dir="$work/terraform"
    mkdir -p "$tf_dir"
    cp -r "$root/terraform/sandbox/modules" "$root"/terraform/sandbox/*.tf \
        "$root/terraform/sandbox/sandbox_env_configuration.tfvars" "$tf_dir/"
    install -m 0600 "$root/terraform/sandbox/sandbox_env_secrets.tfvars.example" \
        "$tf_dir/sandbox_env_secrets.tfvars"
    "$tofu" -chdir="$tf_dir" init -input=false -no-color >"$work/tofu.log" 2>&1 \
        && "$tofu" -chdir="$tf_dir" apply -input=false -auto-approve -no-color \
            -var-file=sandbox_env_configuration.tfvars -var-file=sandbox_env_secrets.tfvars \
            -var=csi_packages_tag=bench -var=csi_environment=bench >>"$work/tofu.log" 2>&1 \
        || { tail -n 20 "$work/tofu.log" >&2; die "tofu init/apply of the bench tree failed"; }
}

setup_nomad() {
    nomad_port=$(free_port)
    say "Nomad double on 127.0.0.1:$nomad_port, 200 ms per request"
    "$double" --bind "127.0.0.1:$nomad_port" --latency-ms 200 --cpu-capacity 16000 \
        >"$work/double.log" 2>&1 &
    started_pids+=($!)
    wait_for_port "$nomad_port" "$!" || { cat "$work/double.log" >&2; die "the Nomad double did not start"; }
    mkdir -p "$work/nomad"
    cp "$root"/nomad/*.nomad "$work/nomad/"
}

# PostgreSQL behind the delay proxy; tofu and borg behind wrappers that wait 200 ms.
setup_slow_sources() {
    proxy_port=$(free_port)
    say "delay proxy 127.0.0.1:$proxy_port -> PostgreSQL, 200 ms per answer"
    python3 "$root/scripts/bench/delay-proxy.py" "$proxy_port" "$pg_port" 200 >"$work/proxy.log" 2>&1 &
    started_pids+=($!)
    wait_for_port "$proxy_port" "$!" || { cat "$work/proxy.log" >&2; die "the delay proxy did not start"; }
    mkdir -p "$work/slow"
    local tool real
    for tool in tofu borg; do
        real=$tofu
        [[ $tool == borg ]] && real=$borg
        printf '#!/bin/sh\nsleep 0.2\nexec %q "$@"\n' "$real" >"$work/slow/$tool"
        chmod +x "$work/slow/$tool"
    done
    # borg alone needs half a second of python start-up before it answers anything, so
    # "answering in 200 ms" takes a stand-in: borg's real answer to the same arguments,
    # recorded on the first call, then given back after 200 ms.
    mkdir -p "$work/answering"
    cp "$work/slow/tofu" "$work/answering/tofu"
    {
        printf '#!/usr/bin/env bash\n'
        printf 'recorded=%q/borg-$(printf %%s\\\\0 "$@" | sha1sum | cut -c1-16)\n' "$work/answering"
        printf 'if [[ -f $recorded.out ]]; then\n'
        printf '    sleep 0.2; cat "$recorded.out"; exit "$(cat "$recorded.code")"\n'
        printf 'fi\n'
        printf 'code=0\n'
        printf '%q "$@" >"$recorded.out" || code=$?\n' "$borg"
        printf 'echo "$code" >"$recorded.code"; cat "$recorded.out"; exit "$code"\n'
    } >"$work/answering/borg"
    chmod +x "$work/answering/borg"
}

write_config() {
    local service file
    : >"$work/csi.hcl"
    for service in job-creation:job_creation job-configuration:job_configuration \
        job-execution:job_execution job-publication:job_publication monitor:monitor \
        worker-pool-management:worker_pool_management; do
        file=${service#*:}.nomad
        printf 'service "%s" {\n  job_file = "%s"\n}\n' "${service%%:*}" "$file" >>"$work/csi.hcl"
    done
    environment bench "$tofu" "$pg_port" >>"$work/csi.hcl"
    environment slow "$work/slow/tofu" "$proxy_port" >>"$work/csi.hcl"
}

environment() { # $1: name, $2: tofu, $3: database port
    cat <<EOF
environment "$1" {
  terraform {
    dir                    = "$tf_dir"
    binary                 = "$2"
    configuration_var_file = "sandbox_env_configuration.tfvars"
    secrets_var_file       = "sandbox_env_secrets.tfvars"
  }
  nomad {
    address        = "http://127.0.0.1:$nomad_port"
    jobs_dir       = "$work/nomad"
    deploy_timeout = "1m"
    template_values = {
      CSI_ROOT_DIR                 = "/opt/csi"
      CSI_CONFIG_ENV_FILE_CONTENT  = "CSI_ENVIRONMENT=bench"
      CSI_SECRETS_ENV_FILE_CONTENT = "CSI_DATABASE_PASSWORD=bench"
      GITLAB_TOKEN_PASSWORD        = "bench-registry-token"
    }
  }
  database {
    host = "127.0.0.1"
    port = $3
    user = "postgres"
    name = "$db"
  }
  borg {
    repository = "$repo"
  }
  jobs {
    pause = "0s"
  }
}
EOF
}
