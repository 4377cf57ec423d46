"""The console's words in pt-BR (the guide's language, the default) and English.

A page asks `t(key)`; the language is the `console.language` setting, or with "auto" the first of
pt/en the browser's Accept-Language names.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("pt-BR", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    "title": ("Console Auvo <> Bling", "Auvo <> Bling console"),
    "login": ("Entrar", "Sign in"),
    "logout": ("Sair", "Sign out"),
    "user": ("Usuário", "User"),
    "password": ("Senha", "Password"),
    "login_failed": ("Usuário ou senha incorretos.", "Wrong user name or password."),
    "login_throttled": (
        "Muitas tentativas de entrada. Aguarde alguns minutos e tente de novo.",
        "Too many sign-in attempts. Wait a few minutes and try again.",
    ),
    "login_expired": ("O formulário expirou; tente de novo.", "The form expired; try again."),
    "companies": ("Empresas", "Companies"),
    "company": ("Empresa", "Company"),
    "audit": ("Auditoria", "Audit log"),
    "state": ("Situação", "State"),
    "state_active": ("ativa", "active"),
    "state_paused": ("pausada", "paused"),
    "state_disabled": ("desativada", "disabled"),
    "bling_authorized": ("Bling autorizado", "Bling authorized"),
    "bling_not_authorized": ("Bling não autorizado", "Bling not authorized"),
    "missing": ("Falta configurar", "Still to set"),
    "daily_quota": ("Cota diária do Bling", "Bling daily quota"),
    "quota_used": ("usadas hoje", "used today"),
    "quota_of": ("de", "of"),
    "quota_left": ("restam", "left"),
    "quota_projected": ("previsão no ritmo atual", "projected at the current pace"),
    "quota_spent": ("cota do dia esgotada", "the day's quota is spent"),
    "enable": ("Ativar", "Enable"),
    "disable": ("Desativar", "Disable"),
    "pause": ("Pausar", "Pause"),
    "resume": ("Retomar", "Resume"),
    "add_company": ("Adicionar empresa", "Add company"),
    "name": ("Nome", "Name"),
    "setup": ("Configuração", "Setup"),
    "options": ("Opções", "Options"),
    "save": ("Salvar", "Save"),
    "forbidden": ("Você não tem permissão para esta ação.", "You are not allowed to do this."),
    "csrf_refused": (
        "Pedido recusado: o formulário não veio desta sessão (token CSRF ausente ou inválido).",
        "Request refused: the form did not come from this session (missing or invalid CSRF token).",
    ),
    "not_found": ("Página não encontrada.", "Page not found."),
    "back": ("Voltar", "Back"),
    "paused_since": ("pausada desde", "paused since"),
    "needs_config": (
        "Esta empresa está no arquivo de configuração, e o console foi iniciado sem --config: "
        "ative ou desative-a nesse arquivo.",
        "This company is in the settings file and the console was started without --config: "
        "enable or disable it in that file.",
    ),
    "added_to_database": (
        "Empresa adicionada (desativada). Siga os passos abaixo e depois ative-a em Empresas: os "
        "processos em execução passam a atendê-la em segundos, sem reiniciar.",
        "Company added (disabled). Follow the steps below, then enable it under Companies: the "
        "running processes start serving it within seconds, without a restart.",
    ),
    "added_in_database": (
        "Sem arquivo de configuração (--config): as empresas adicionadas aqui ficam no banco de "
        "dados, com as credenciais cifradas.",
        "No settings file (--config): companies added here are kept in the database, their "
        "credentials encrypted.",
    ),
    "applied_within_poll": (
        "Alterado; os processos em execução aplicam em segundos, sem reiniciar.",
        "Changed; the running processes apply it within seconds, without a restart.",
    ),
    "restart_to_apply": (
        "Alterado no arquivo de configuração; reinicie run/consume/produce para aplicar.",
        "Changed in the settings file; restart run/consume/produce to apply.",
    ),
    "paused_ok": ("Empresa pausada em todos os processos.", "Company paused on every process."),
    "resumed_ok": ("Empresa retomada.", "Company resumed."),
    "step_bling_app": ("1. Aplicativo no Bling", "1. The Bling app"),
    "step_auvo": ("2. API do Auvo", "2. The Auvo API"),
    "step_authorize": ("3. Autorizar", "3. Authorize"),
    "redirect_link": ("Link de redirecionamento", "Redirect link"),
    "redirect_help": (
        "Neste campo do cadastro do aplicativo no Bling, coloque exatamente o link abaixo:",
        "In the Bling app's form, put exactly this link in this field:",
    ),
    "copy": ("Copiar", "Copy"),
    "copied": ("Copiado", "Copied"),
    "copy_failed": ("Selecione e copie com Ctrl+C", "Select it and press Ctrl+C"),
    "scopes_help": (
        "Lista de escopos: aperte em “adicionar” e marque todos os escopos abaixo:",
        "Scope list: press “adicionar” and tick every scope below:",
    ),
    "and_subitems": ("e seus subitens", "and their sub-items"),
    "is_set": ("definido", "set"),
    "not_set": ("não definido", "not set"),
    "write_only": (
        "Por segurança o valor salvo nunca é mostrado; preencha só para trocar.",
        "For safety the saved value is never shown; fill it in only to change it.",
    ),
    "test_connection": ("Testar conexão", "Test connection"),
    "connection_ok": ("Conexão com o Auvo funcionando.", "The Auvo connection works."),
    "auvo_deactivated": ("API do Auvo desativada", "Auvo API deactivated"),
    "auvo_deactivated_fix": (
        "Na aba de “integrações” do Auvo (https://app.auvo.com.br/integracao), ative a API do sistema "
        "apertando no ícone, para ficar em “ATIVADA”; depois teste de novo.",
        "In Auvo's “integrações” tab (https://app.auvo.com.br/integracao), switch the system's API on "
        "so it reads “ATIVADA”; then test again.",
    ),
    "auvo_wrong_credentials": (
        "Chave (API key) ou token do Auvo incorretos: copie de novo os dois da aba de integrações do Auvo.",
        "Wrong Auvo API key or token: copy both again from Auvo's integrations tab.",
    ),
    "auvo_unreachable": ("O Auvo não respondeu", "Auvo did not answer"),
    "authorize_help": (
        "Aperte em Autorizar: abrirá a página do Bling pedindo o acesso; informe seu usuário e senha do "
        "Bling. Ao terminar você volta para cá.",
        "Press Authorize: Bling's page asks for access; give your Bling user and password. "
        "Then you come back here.",
    ),
    "authorize": ("Autorizar", "Authorize"),
    "authorized_ok": ("Autorização concluída.", "Authorization done."),
    "granted_scopes": ("Escopos concedidos", "Granted scopes"),
    "missing_scopes": (
        "Escopos que faltam (marque-os no aplicativo do Bling e autorize de novo)",
        "Missing scopes (tick them in the Bling app and authorize again)",
    ),
    "no_missing_scopes": (
        "Todos os escopos necessários foram concedidos.",
        "Every scope needed was granted.",
    ),
    "authorize_failed": ("A autorização falhou", "The authorization failed"),
    "state_mismatch": (
        "O retorno do Bling não pertence a esta tentativa de autorização (state diferente); "
        "aperte Autorizar de novo.",
        "Bling's callback does not belong to this authorization attempt (state differs); "
        "press Authorize again.",
    ),
    "saved_applied": ("salvo — aplicado às", "saved — applied at"),
    "saved_pending": ("salvo — aguardando aplicação", "saved — waiting to be applied"),
    "by": ("por", "by"),
    "source": ("origem", "source"),
    "pinned_by": ("fixado por", "pinned by"),
    "source_default": ("padrão", "default"),
    "source_toml": ("arquivo TOML", "TOML file"),
    "source_env": ("variável de ambiente", "environment variable"),
    "source_console": ("console", "console"),
    "saved_ok": ("Opções salvas.", "Options saved."),
    "fix_errors": ("Corrija os campos marcados.", "Fix the fields marked."),
    "all_types": ("Todos", "All"),
    "any_group": ("Nenhum (todos os clientes)", "None (every customer)"),
    "auvo_lists_failed": (
        "Não foi possível ler as listas do Auvo",
        "Could not read Auvo's lists",
    ),
    "when": ("Quando", "When"),
    "who": ("Quem", "Who"),
    "action": ("Ação", "Action"),
    "change": ("Alteração", "Change"),
    "nothing_yet": ("Nada ainda.", "Nothing yet."),
    "client_id": ("Client ID", "Client ID"),
    "client_secret": ("Client Secret", "Client Secret"),
    "api_key": ("Chave da API (API key)", "API key"),
    "api_token": ("Token da API", "API token"),
    "why_title": ("Por que não integrou?", "Why wasn't it integrated?"),
    "why_query": (
        "Tarefa, orçamento ou cliente do Auvo, ou CPF/CNPJ",
        "Auvo task, quotation or customer id, or a CPF/CNPJ",
    ),
    "why_query_help": (
        "Digite o número do registro no Auvo (ou o do pedido/contato no Bling), ou o CPF/CNPJ do cliente.",
        "Type the record's number in Auvo (or the pedido's/contato's in Bling), or the customer's CPF/CNPJ.",
    ),
    "why_subject": (
        "Tipo de registro (quando o número é de vários)",
        "Kind of record (when the number is several)",
    ),
    "why_any_subject": ("Qualquer", "Any"),
    "why_look_up": ("Consultar", "Look up"),
    "why_failed": ("Não foi possível consultar", "Could not look it up"),
    "why_open_in_app": ("Abrir no aplicativo", "Open in the web app"),
    "why_rule": ("Regra que deixou de fora", "Rule that left it out"),
    "why_written": ("Registros gravados do outro lado", "Records written on the other side"),
    "why_diagnosis": ("Diagnóstico", "Diagnosis"),
    "why_error": ("Erro", "Error"),
    "why_message": ("Mensagem", "Message"),
    "why_field": ("Campo", "Field"),
    "why_hint": ("Dica", "Hint"),
    "why_attempts": ("Tentativas", "Attempts"),
    "why_event": ("Evento", "Event"),
    "why_next": ("Próximo passo", "Next step"),
    "why_history": ("Histórico", "History"),
    "why_step": ("Etapa", "Step"),
    "why_what": ("O que aconteceu", "What happened"),
    "why_now": ("agora", "now"),
    "why_nothing": ("Nada registrado.", "Nothing recorded."),
    "why_also": ("Também corresponde a", "Also matches"),
    "why_kind_left_out": ("deixado de fora", "left out"),
    "why_kind_published": ("lido e publicado", "read and published"),
    "why_kind_handled": ("processado", "handled"),
    "why_kind_written": ("gravado", "written"),
    "why_kind_retried": ("nova tentativa", "retried"),
    "why_kind_dead_lettered": ("fila de falhas (DLQ)", "dead-lettered (DLQ)"),
    "why_kind_checked": ("verificado agora no Auvo", "checked in Auvo just now"),
    "guessed_link": ("endereço presumido", "guessed address"),
    "operacao": ("Operação", "Operations"),
    "op_at": ("Números de", "Numbers as of"),
    "op_connecting": ("conectando…", "connecting…"),
    "op_updating": ("ao vivo", "live"),
    "op_disconnected": ("sem conexão; tentando de novo", "disconnected; retrying"),
    "op_processes": ("Processos", "Processes"),
    "op_process": ("Processo", "Process"),
    "op_role": ("Papel", "Role"),
    "op_threads": ("Threads", "Threads"),
    "op_last_beat": ("Último sinal há", "Last beat"),
    "op_last_event": ("Último evento (fluxo · id · quando)", "Last event (flow · id · when)"),
    "op_stale": ("sem sinal", "stale"),
    "op_live": ("ativo", "live"),
    "op_no_processes": (
        "Nenhum processo em execução deu sinal (auvo-bling run, consume ou produce).",
        "No running process has reported (auvo-bling run, consume or produce).",
    ),
    "op_quota_lifts": (
        "Pausa pela cota diária: volta sozinha quando a cota voltar.",
        "Paused for the daily quota: it lifts itself when the quota is back.",
    ),
    "op_token_expires": ("Token do Bling expira em", "Bling token expires in"),
    "op_events_hour": (
        "Eventos tratados na última hora (minutos já encerrados)",
        "Events handled in the last hour (minutes already ended)",
    ),
    "op_chart_events": ("Eventos por minuto, por fluxo", "Events per minute, per flow"),
    "op_chart_latency": ("Latência da mudança à escrita (p95, s)", "Change-to-write latency (p95, s)"),
    "op_chart_quota": ("Chamadas ao Bling no dia", "Bling calls of the day"),
    "op_pollers": ("Consultas periódicas", "Pollers"),
    "op_poller": ("Consulta", "Poller"),
    "op_interval": ("Intervalo", "Interval"),
    "op_next_pass": ("Próxima passada", "Next pass"),
    "op_cursor": ("Cursor", "Cursor"),
    "op_lag": ("Avançou há", "Advanced"),
    "op_stream": ("Origem das mudanças", "Change stream"),
    "op_last_poll": ("Última passada que a ouviu há", "Last heard by a poll"),
    "op_last_webhook": ("Último webhook há", "Last webhook"),
    "op_queues": ("Filas de trabalho", "Work queues"),
    "op_queue": ("Fila", "Queue"),
    "op_ready": ("Prontas", "Ready"),
    "op_unacked": ("Em tratamento", "Unacked"),
    "op_consumers": ("Consumidores", "Consumers"),
    "op_rate": ("Ritmo", "Rate"),
    "op_passive": (
        "Sem a API de gerenciamento do RabbitMQ: em tratamento e ritmo não são conhecidos.",
        "Without RabbitMQ's management API: unacked and rates are not known.",
    ),
    "op_memory_bus": (
        "Barramento em memória (memory://): as filas vivem em cada processo; "
        "profundidade não conhecida aqui.",
        "In-memory bus (memory://): queues live inside each process; depths are not known here.",
    ),
    "op_last_writes": ("Última escrita por fluxo", "Last write per flow"),
    "op_flow": ("Fluxo", "Flow"),
    "op_last_write": ("Última escrita", "Last write"),
    "op_handled": ("Tratados (contadores)", "Handled (counters)"),
}


def pick_language(setting: str, accept_language: str | None) -> str:
    if setting in LANGUAGES:
        return setting
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("pt"):
            return "pt-BR"
        if tag.startswith("en"):
            return "en"
    return "pt-BR"


def translator(language: str) -> Callable[[str], str]:
    index = 1 if language == "en" else 0

    def t(key: str) -> str:
        return MESSAGES[key][index] if key in MESSAGES else key

    return t
